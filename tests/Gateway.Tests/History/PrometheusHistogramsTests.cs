using Distributed.Gateway.History;

namespace Distributed.Gateway.Tests.History;

[Trait("Category", "Unit")]
public sealed class PrometheusHistogramsTests
{
    // The shape a gateway's /metrics has (two status codes to one backend, a backend on the default port, another
    // histogram whose name shares the prefix, comments and a label value with escapes).
    private const string Exposition = """
        # TYPE http_client_request_duration_seconds histogram
        # HELP http_client_request_duration_seconds Duration of HTTP client requests.
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="200",server_address="127.0.0.1",server_port="5001",url_scheme="http",le="0.005"} 14
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="200",server_address="127.0.0.1",server_port="5001",url_scheme="http",le="0.01"} 20
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="200",server_address="127.0.0.1",server_port="5001",url_scheme="http",le="+Inf"} 25
        http_client_request_duration_seconds_sum{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="200",server_address="127.0.0.1",server_port="5001",url_scheme="http"} 0.3
        http_client_request_duration_seconds_count{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="200",server_address="127.0.0.1",server_port="5001",url_scheme="http"} 25
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="503",server_address="127.0.0.1",server_port="5001",url_scheme="http",le="0.005"} 1
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="503",server_address="127.0.0.1",server_port="5001",url_scheme="http",le="0.01"} 1
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",http_request_method="GET",http_response_status_code="503",server_address="127.0.0.1",server_port="5001",url_scheme="http",le="+Inf"} 2 1700000000000
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",error_type="a \"quoted\\ value",server_address="Echo2.Internal",url_scheme="http",le="0.005"} 0
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",error_type="a \"quoted\\ value",server_address="Echo2.Internal",url_scheme="http",le="0.01"} 3
        http_client_request_duration_seconds_bucket{otel_scope_name="System.Net.Http",error_type="a \"quoted\\ value",server_address="Echo2.Internal",url_scheme="http",le="+Inf"} 3
        http_client_request_duration_seconds_other_bucket{server_address="127.0.0.1",server_port="5001",le="+Inf"} 1000
        http_server_request_duration_seconds_bucket{http_route="/",le="+Inf"} 1000
        """;

    [Fact]
    public void ByEndpoint_SeriesOfOneBackend_AreSummedOverTheirOtherLabels()
    {
        var histograms = PrometheusHistograms.ByEndpoint(Exposition, PrometheusBackendLatencySource.Histogram);

        Assert.Equal(2, histograms.Count);
        var local = histograms[new HttpEndpoint("127.0.0.1", 5001)];
        Assert.Equal(new[] { 0.005, 0.01, double.PositiveInfinity }, local.UpperBounds);
        Assert.Equal(new long[] { 15, 21, 27 }, local.Counts);

        // No server_port label: the scheme's default port, as HttpClient reports it; host names compare in lower case.
        Assert.Equal(new long[] { 0, 3, 3 }, histograms[new HttpEndpoint("echo2.internal", null)].Counts);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5001/", "127.0.0.1", 5001)]
    [InlineData("http://Echo2.Internal/", "echo2.internal", null)]
    [InlineData("https://backend:443/app/", "backend", null)]
    [InlineData("http://[::1]:8080", "::1", 8080)]
    public void Of_BackendAddress_IsTheEndpointHttpClientReports(string address, string host, int? port) =>
        Assert.Equal(new HttpEndpoint(host, port), HttpEndpoint.Of(address));

    [Fact]
    public void ByEndpoint_BrokenLines_AreSkipped()
    {
        const string Broken = """
            http_client_request_duration_seconds_bucket{server_address="a",le="0.1"
            http_client_request_duration_seconds_bucket{server_address="a",le="x"} 1
            http_client_request_duration_seconds_bucket{le="+Inf"} 1
            http_client_request_duration_seconds_bucket{server_address="b",le="0.1"} 1
            """;
        // "b" has no +Inf bucket, "a" no valid bucket, the last line no address: nothing usable, and no exception.
        Assert.Empty(PrometheusHistograms.ByEndpoint(Broken, PrometheusBackendLatencySource.Histogram));
    }
}

namespace Distributed.Observability.Tests;

[Trait("Category", "Observability")]
public sealed class PromQlTests
{
    [Theory]
    [InlineData(
        "sum by (pool, backend) (rate(distributed_gateway_requests_total{pool=~\"$pool\", result=\"failure\"}[$__rate_interval])) / sum by (pool, backend) (rate(distributed_gateway_requests_total[5m] offset 1m))",
        "distributed_gateway_requests_total")]
    [InlineData(
        "histogram_quantile(0.99, sum by (le, server_address) (rate(http_client_request_duration_seconds_bucket{job=~\"$gateway_job\"}[1m])))",
        "http_client_request_duration_seconds_bucket")]
    [InlineData("a_total / on (instance) group_left (pool) b_info * 1e3 + max(c_seconds) > bool 2", "a_total b_info c_seconds")]
    [InlineData("label_values(distributed_backend_inflight, pool)", "distributed_backend_inflight")]
    public void MetricNames_AreTheSeriesNamesNotFunctionsLabelsOrKeywords(string query, string expected) =>
        Assert.Equal(expected.Split(' ').Order(), PromQl.MetricNames(query).Order());

    [Fact]
    public void Runnable_SetsVariablesAndTurnsLabelValuesIntoPromQl()
    {
        var variables = new Dictionary<string, string> { ["pool"] = ".*", ["__rate_interval"] = "1m" };
        Assert.Equal("rate(x_total{pool=~\".*\"}[1m])", PromQl.Runnable("rate(x_total{pool=~\"$pool\"}[$__rate_interval])", variables));
        Assert.Equal("count by (pool) (distributed_backend_inflight)", PromQl.Runnable("label_values(distributed_backend_inflight, pool)", variables));
    }
}

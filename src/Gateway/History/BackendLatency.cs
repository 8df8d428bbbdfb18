using System.Globalization;
using System.Text;

namespace Distributed.Gateway.History;

/// <summary>Where a backend listens, as HttpClient's metrics name it (<c>server.address</c>, <c>server.port</c>).</summary>
/// <param name="Host">Host name or IP address, lower case, without IPv6 brackets.</param>
/// <param name="Port">The port; <c>null</c> when it is the scheme's default, which HttpClient's metrics leave out.</param>
internal readonly record struct HttpEndpoint(string Host, int? Port)
{
    /// <summary>The endpoint of a backend's base address; <c>null</c> for an address that is not an absolute URL.</summary>
    public static HttpEndpoint? Of(string address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri)
            ? new HttpEndpoint(Normalize(uri.Host), uri.IsDefaultPort ? null : uri.Port)
            : null;

    public static string Normalize(string host) => host.Trim('[', ']').ToLowerInvariant();
}

/// <summary>Forwarding latency per backend endpoint, as this gateway has measured it since it started.</summary>
internal interface IBackendLatencySource
{
    /// <summary>The running latency histograms, by endpoint.</summary>
    Task<IReadOnlyDictionary<HttpEndpoint, LatencyHistogram>> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Reads the histogram every forwarded request already updates: .NET's <c>http.client.request.duration</c> (time until
/// the backend's response headers arrive), which OpenTelemetry aggregates into buckets per backend address for the
/// Prometheus endpoint. The history takes it from a Prometheus collection in the process (the same pipeline
/// <c>/metrics</c> runs, not over the network), once a second: a second aggregation (a <c>MeterListener</c> or another
/// metric reader) would add work to every request, which this does not.
/// </summary>
internal sealed class PrometheusBackendLatencySource(IServiceProvider services) : IBackendLatencySource
{
    /// <summary>The histogram's Prometheus name (OpenTelemetry adds the unit; the samples are its <c>_bucket</c>s).</summary>
    public const string Histogram = "http_client_request_duration_seconds";

    private readonly Lazy<RequestDelegate> _collect = new(() =>
        new ApplicationBuilder(services)
            .UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: _ => true, path: null, configureBranchedPipeline: null, optionsName: null)
            .Build());

    public async Task<IReadOnlyDictionary<HttpEndpoint, LatencyHistogram>> ReadAsync(CancellationToken cancellationToken)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        using var body = new MemoryStream();
        context.Response.Body = body;
        context.RequestAborted = cancellationToken;
        await _collect.Value(context);
        if (context.Response.StatusCode != StatusCodes.Status200OK)
        {
            throw new InvalidOperationException($"The in-process Prometheus collection answered {context.Response.StatusCode}.");
        }

        return PrometheusHistograms.ByEndpoint(Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length), Histogram);
    }
}

/// <summary>Reads histograms out of the Prometheus text exposition format (version 0.0.4).</summary>
internal static class PrometheusHistograms
{
    /// <summary>
    /// The <paramref name="histogram"/>'s series grouped by <c>server_address</c> and <c>server_port</c> and summed over
    /// every other label (method, status code, protocol version...).
    /// </summary>
    public static IReadOnlyDictionary<HttpEndpoint, LatencyHistogram> ByEndpoint(string exposition, string histogram)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        var bucket = histogram + "_bucket";
        // Series (all labels but le) -> bound -> cumulative count.
        var series = new Dictionary<string, (HttpEndpoint Endpoint, SortedDictionary<double, long> Buckets)>(StringComparer.Ordinal);
        foreach (var range in exposition.AsSpan().Split('\n'))
        {
            var line = exposition.AsSpan(range);
            if (!line.StartsWith(bucket) || line.Length == bucket.Length || line[bucket.Length] != '{')
            {
                continue;
            }

            if (!TryParseSample(line[bucket.Length..], out var labels, out var value)
                || !labels.TryGetValue("le", out var le)
                || !TryParseDouble(le, out var bound)
                || !labels.TryGetValue("server_address", out var host))
            {
                continue;
            }

            int? port = labels.TryGetValue("server_port", out var p) && int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
            labels.Remove("le");
            var key = string.Join('\n', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
            if (!series.TryGetValue(key, out var entry))
            {
                entry = (new HttpEndpoint(HttpEndpoint.Normalize(host), port), new SortedDictionary<double, long>());
                series[key] = entry;
            }

            entry.Buckets[bound] = (long)value;
        }

        return series.Values
            .Where(s => s.Buckets.Count > 0 && double.IsPositiveInfinity(s.Buckets.Keys.Last()))
            .GroupBy(s => s.Endpoint)
            .Select(g => (g.Key, Histogram: LatencyHistogram.Sum([.. g.Select(s => new LatencyHistogram([.. s.Buckets.Keys], [.. s.Buckets.Values]))])))
            .Where(e => e.Histogram is not null)
            .ToDictionary(e => e.Key, e => e.Histogram!);
    }

    // {name="value",...} value [timestamp]; label values escape \, " and newline with a backslash.
    private static bool TryParseSample(ReadOnlySpan<char> text, out Dictionary<string, string> labels, out double value)
    {
        labels = new Dictionary<string, string>(StringComparer.Ordinal);
        value = 0;
        var i = 1;
        var builder = new StringBuilder();
        while (i < text.Length && text[i] != '}')
        {
            var equals = text[i..].IndexOf('=');
            if (equals <= 0 || i + equals + 1 >= text.Length || text[i + equals + 1] != '"')
            {
                return false;
            }

            var name = text.Slice(i, equals).Trim().ToString();
            i += equals + 2;
            builder.Clear();
            while (i < text.Length && text[i] != '"')
            {
                if (text[i] == '\\' && i + 1 < text.Length)
                {
                    i++;
                    builder.Append(text[i] == 'n' ? '\n' : text[i]);
                }
                else
                {
                    builder.Append(text[i]);
                }

                i++;
            }

            if (i >= text.Length)
            {
                return false;
            }

            labels[name] = builder.ToString();
            i++; // closing quote
            if (i < text.Length && text[i] == ',')
            {
                i++;
            }
        }

        if (i >= text.Length)
        {
            return false;
        }

        var rest = text[(i + 1)..].Trim();
        var space = rest.IndexOf(' ');
        return TryParseDouble(space < 0 ? rest : rest[..space], out value);
    }

    private static bool TryParseDouble(ReadOnlySpan<char> text, out double value)
    {
        switch (text)
        {
            case "+Inf":
                value = double.PositiveInfinity;
                return true;
            case "-Inf":
                value = double.NegativeInfinity;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }
}

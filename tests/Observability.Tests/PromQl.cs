using System.Text.RegularExpressions;

namespace Distributed.Observability.Tests;

/// <summary>
/// The metric names a PromQL expression (or a Grafana <c>label_values(metric, label)</c> query) reads: the identifiers
/// left once strings, label matchers, ranges, grouping clauses, function calls and keywords are set aside. Names are
/// kept exactly as written, suffixes included (<c>_total</c>, <c>_bucket</c>, <c>_seconds</c>...), because that is
/// what Prometheus stores and what the dashboard must match.
/// </summary>
internal static partial class PromQl
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan",
    };

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^}]*\}|\[[^\]]*\]")]
    private static partial Regex MatchersAndRanges();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\$\{?\w+\}?")]
    private static partial Regex GrafanaVariable();

    [GeneratedRegex(@"^\s*label_values\(\s*(?<metric>[^,)]+?)\s*(?:,[^)]*)?\)\s*$")]
    private static partial Regex LabelValues();

    [GeneratedRegex(@"(?<![\w.:])(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?<call>\s*\()?")]
    private static partial Regex Identifier();

    /// <summary>Metric names in <paramref name="query"/>.</summary>
    public static IEnumerable<string> MetricNames(string query)
    {
        if (LabelValues().Match(query) is { Success: true } labelValues)
        {
            query = labelValues.Groups["metric"].Value;
        }

        var text = StringLiteral().Replace(query, " ");
        text = MatchersAndRanges().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        text = GrafanaVariable().Replace(text, " ");
        return Identifier().Matches(text)
            .Where(m => !m.Groups["call"].Success && !Keywords.Contains(m.Groups["name"].Value))
            .Select(m => m.Groups["name"].Value)
            .Distinct(StringComparer.Ordinal);
    }

    /// <summary>
    /// A Grafana query made runnable by Prometheus: the dashboard's variables set to every pool and to the job names
    /// of the test's scrape config, <c>label_values</c> turned into the PromQL it stands for.
    /// </summary>
    public static string Runnable(string query, IReadOnlyDictionary<string, string> variables)
    {
        if (LabelValues().Match(query) is { Success: true } labelValues)
        {
            var label = query[(query.LastIndexOf(',') + 1)..].TrimEnd(')', ' ');
            query = $"count by ({label.Trim()}) ({labelValues.Groups["metric"].Value})";
        }

        return GrafanaVariable().Replace(query, m => variables.TryGetValue(m.Value.Trim('$', '{', '}'), out var value) ? value : m.Value);
    }
}

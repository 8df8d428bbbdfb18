using System.Diagnostics.CodeAnalysis;

namespace Distributed.Gateway.SessionKeys;

/// <summary>
/// A parsed <c>Balancer:Pools:&lt;pool&gt;:HashKey</c>: what the <c>Hash</c> balancing policy hashes.
/// <c>ClientIp</c>, <c>Header:&lt;name&gt;</c>, <c>Cookie:&lt;name&gt;</c> (the raw value), <c>Claim:&lt;type&gt;</c>
/// (as session keys are written) or <c>Path</c> (the URL path, without query).
/// </summary>
internal readonly record struct HashKeySpec(SessionKeySpec Source, bool IsPath)
{
    /// <summary>Parses a setting; the error completes "HashKey …".</summary>
    public static bool TryParse(string? setting, out HashKeySpec spec, [NotNullWhen(false)] out string? error)
    {
        spec = default;
        if (string.Equals(setting?.Trim(), "Path", StringComparison.OrdinalIgnoreCase))
        {
            spec = new HashKeySpec(default, IsPath: true);
            error = null;
            return true;
        }

        if (string.IsNullOrWhiteSpace(setting))
        {
            error = "must be set when Policy is Hash: ClientIp, Header:<name>, Cookie:<name>, Claim:<type> or Path.";
            return false;
        }

        if (!SessionKeySourceFactory.TryParse(setting, out var source, out var sourceError))
        {
            error = sourceError.Replace("or empty", "or Path", StringComparison.Ordinal);
            return false;
        }

        spec = new HashKeySpec(source, IsPath: false);
        error = null;
        return true;
    }

    /// <summary>Parses a setting that was validated at start-up.</summary>
    public static HashKeySpec Parse(string? setting) =>
        TryParse(setting, out var spec, out var error) ? spec : throw new FormatException($"HashKey {error}");

    /// <summary>The value hashed for <paramref name="context"/>; <c>null</c> when the request does not have it.</summary>
    public string? Read(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (IsPath)
        {
            return context.Request.Path.Value is { Length: > 0 } path ? path : "/";
        }

        var value = Source.Kind switch
        {
            SessionKeyKind.Header => context.Request.Headers[Source.Name!].ToString(),
            SessionKeyKind.Cookie => context.Request.Cookies[Source.Name!],
            SessionKeyKind.Claim => context.User.FindFirst(Source.Name!)?.Value,
            SessionKeyKind.ClientIp => ClientIpSessionKeySource.Of(context),
            _ => null,
        };

        return string.IsNullOrEmpty(value) ? null : value;
    }
}

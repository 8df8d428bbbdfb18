using System.Diagnostics.CodeAnalysis;

namespace Distributed.Gateway.SessionKeys;

/// <summary>The kinds of session key a pool can use.</summary>
public enum SessionKeyKind
{
    /// <summary>No stickiness: every request goes where the pool's policy sends it.</summary>
    None = 0,

    /// <summary><c>Header:&lt;name&gt;</c>.</summary>
    Header,

    /// <summary><c>Cookie:&lt;name&gt;</c>.</summary>
    Cookie,

    /// <summary><c>Claim:&lt;type&gt;</c>.</summary>
    Claim,

    /// <summary><c>ClientIp</c>.</summary>
    ClientIp,
}

/// <summary>A parsed <c>Balancer:Pools:&lt;pool&gt;:SessionKey</c> setting.</summary>
public readonly record struct SessionKeySpec(SessionKeyKind Kind, string? Name);

/// <summary>Parses session key settings and builds their sources.</summary>
public static class SessionKeySourceFactory
{
    /// <summary>Parses <c>Header:x</c>, <c>Cookie:x</c>, <c>Claim:x</c>, <c>ClientIp</c> or empty.</summary>
    public static bool TryParse(string? setting, out SessionKeySpec spec, [NotNullWhen(false)] out string? error)
    {
        spec = default;
        error = null;
        if (string.IsNullOrWhiteSpace(setting))
        {
            return true;
        }

        if (string.Equals(setting, "ClientIp", StringComparison.OrdinalIgnoreCase))
        {
            spec = new SessionKeySpec(SessionKeyKind.ClientIp, null);
            return true;
        }

        var colon = setting.IndexOf(':', StringComparison.Ordinal);
        var kind = colon > 0 && Enum.TryParse<SessionKeyKind>(setting[..colon], ignoreCase: true, out var k) ? k : SessionKeyKind.None;
        var name = colon > 0 ? setting[(colon + 1)..].Trim() : "";
        if (kind is not (SessionKeyKind.Header or SessionKeyKind.Cookie or SessionKeyKind.Claim) || name.Length == 0)
        {
            error = $"must be Header:<name>, Cookie:<name>, Claim:<type>, ClientIp or empty (was '{setting}').";
            return false;
        }

        if (kind is not SessionKeyKind.Claim && !IsToken(name))
        {
            error = $"names an invalid header or cookie name '{name}'.";
            return false;
        }

        spec = new SessionKeySpec(kind, name);
        return true;
    }

    /// <summary>Parses a setting that was validated at start-up.</summary>
    public static SessionKeySpec Parse(string? setting) =>
        TryParse(setting, out var spec, out var error) ? spec : throw new FormatException($"SessionKey {error}");

    /// <summary>The source for <paramref name="spec"/>, or <c>null</c> for a pool without stickiness.</summary>
    public static SessionKeySource? Create(SessionKeySpec spec, string pool, int maxKeyLength, SessionCookieProtector protector, SameSiteMode sameSite, TimeSpan renewCookieAfter) => spec.Kind switch
    {
        SessionKeyKind.Header => new HeaderSessionKeySource(spec.Name!, maxKeyLength),
        SessionKeyKind.Cookie => new CookieSessionKeySource(spec.Name!, pool, protector, sameSite, renewCookieAfter),
        SessionKeyKind.Claim => new ClaimSessionKeySource(spec.Name!, maxKeyLength),
        SessionKeyKind.ClientIp => new ClientIpSessionKeySource(),
        _ => null,
    };

    // RFC 9110 token characters: what a header or cookie name may consist of.
    private static bool IsToken(string name)
    {
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }
}

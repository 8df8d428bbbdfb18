using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.SessionKeys;

/// <summary>A pin as a request or a routing decision knows it: the backend, its pin generation, and when the grain last confirmed it.</summary>
/// <param name="BackendId">The pinned backend.</param>
/// <param name="Generation">Its pin generation (see <see cref="BackendSnapshot.PinGeneration"/>).</param>
/// <param name="ConfirmedAt">When the session grain last confirmed the pin.</param>
public readonly record struct PinHint(string BackendId, long Generation, DateTimeOffset ConfirmedAt);

/// <summary>What a request says about its session.</summary>
public readonly record struct SessionKeyResult
{
    /// <summary>The session key, or <c>null</c> for a keyless request (routed by the pool's policy alone).</summary>
    public string? Key { get; private init; }

    /// <summary>The key was minted for this request (a new session); no pin can exist for it yet.</summary>
    public bool IsNew { get; private init; }

    /// <summary>Why the request's key was refused (answered with 400), or <c>null</c>.</summary>
    public string? Error { get; private init; }

    /// <summary>The pin the request itself carries (a signed session cookie names it), or <c>null</c>.</summary>
    public PinHint? Hint { get; private init; }

    /// <summary>The request's credential should be issued again (a session cookie signed with a previous key or format).</summary>
    public bool Renew { get; private init; }

    /// <summary>A keyless request.</summary>
    public static SessionKeyResult None => default;

    /// <summary>An existing session's key.</summary>
    public static SessionKeyResult Existing(string key) => new() { Key = key };

    /// <summary>An existing session's key, with the pin the request carries.</summary>
    public static SessionKeyResult Existing(string key, PinHint? hint, bool renew) => new() { Key = key, Hint = hint, Renew = renew };

    /// <summary>A freshly minted key.</summary>
    public static SessionKeyResult Minted(string key) => new() { Key = key, IsNew = true };

    /// <summary>A key the gateway refuses.</summary>
    public static SessionKeyResult Invalid(string error) => new() { Error = error };
}

/// <summary>Extracts a pool's session key from a request.</summary>
public abstract class SessionKeySource
{
    /// <summary>The session key of <paramref name="context"/>, minting one where the source can.</summary>
    public abstract SessionKeyResult GetKey(HttpContext context);

    /// <summary>
    /// Called once the request's backend is decided, before it is forwarded. <paramref name="pin"/> is the session's pin
    /// as the cluster has it (<c>null</c> when the gateway had to guess), for sources that hand it to the client.
    /// </summary>
    public virtual void OnRouted(HttpContext context, in SessionKeyResult key, PinHint? pin)
    {
    }

    /// <summary>
    /// Checks a client-supplied key before it becomes part of a grain key (<see cref="SessionKeyRules"/>): none when it
    /// is missing or empty, refused when it breaks a rule.
    /// </summary>
    protected static SessionKeyResult Checked(string? key, string origin, int maxLength) =>
        string.IsNullOrEmpty(key) ? SessionKeyResult.None
        : SessionKeyRules.Check(key, maxLength) is { } problem ? SessionKeyResult.Invalid($"The session key in {origin} {problem}.")
        : SessionKeyResult.Existing(key);
}

/// <summary><c>Header:&lt;name&gt;</c>: the key is the value of a request header.</summary>
public sealed class HeaderSessionKeySource(string headerName, int maxLength) : SessionKeySource
{
    private readonly string _origin = $"header '{headerName}'";

    /// <inheritdoc />
    public override SessionKeyResult GetKey(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var values = context.Request.Headers[headerName];
        return values.Count > 1
            ? SessionKeyResult.Invalid($"The request has {values.Count} '{headerName}' headers; send one.")
            : Checked(values.ToString(), _origin, maxLength);
    }
}

/// <summary><c>Claim:&lt;type&gt;</c>: the key is a claim of the authenticated user; anonymous requests are keyless.</summary>
public sealed class ClaimSessionKeySource(string claimType, int maxLength) : SessionKeySource
{
    private readonly string _origin = $"claim '{claimType}'";

    /// <inheritdoc />
    public override SessionKeyResult GetKey(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Checked(context.User.FindFirst(claimType)?.Value, _origin, maxLength);
    }
}

/// <summary><c>ClientIp</c>: the key is the client's IP address (after forwarded-header processing).</summary>
public sealed class ClientIpSessionKeySource : SessionKeySource
{
    /// <inheritdoc />
    public override SessionKeyResult GetKey(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Of(context) is { } address ? SessionKeyResult.Existing(address) : SessionKeyResult.None;
    }

    /// <summary>The client's address as text (IPv4-mapped IPv6 as IPv4), or <c>null</c> when the connection has none.</summary>
    public static string? Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var address = context.Connection.RemoteIpAddress;
        return address is null ? null : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }
}

/// <summary>
/// <c>Cookie:&lt;name&gt;</c>: the key is a random id in a signed cookie that also names the session's pin. A request
/// without a valid cookie (absent, malformed or tampered with) gets a new session and a fresh cookie; it is never
/// refused. The cookie is issued again whenever the pin it names moved, was confirmed well after the cookie was issued,
/// or was signed with a previous key.
/// </summary>
public sealed class CookieSessionKeySource(string cookieName, string pool, SessionCookieProtector protector, SameSiteMode sameSite, TimeSpan renewAfter) : SessionKeySource
{
    /// <inheritdoc />
    public override SessionKeyResult GetKey(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Request.Cookies.TryGetValue(cookieName, out var value) && protector.TryUnprotect(pool, value, out var cookie))
        {
            var hint = cookie.BackendId is { } backend ? new PinHint(backend, cookie.Generation, cookie.IssuedAt) : (PinHint?)null;
            return SessionKeyResult.Existing(cookie.Id, hint, renew: !cookie.Current);
        }

        return SessionKeyResult.Minted(SessionCookieProtector.NewId());
    }

    /// <inheritdoc />
    public override void OnRouted(HttpContext context, in SessionKeyResult key, PinHint? pin)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (key.Key is not { } id || pin is not { } now)
        {
            return; // no session, or a guess: the cookie keeps naming the pin it had
        }

        if (!key.IsNew && !key.Renew && key.Hint is { } had && had.BackendId == now.BackendId && had.Generation == now.Generation && now.ConfirmedAt - had.ConfirmedAt < renewAfter)
        {
            return;
        }

        context.Response.Cookies.Append(cookieName, protector.Protect(pool, id, now.BackendId, now.Generation, now.ConfirmedAt), new CookieOptions
        {
            HttpOnly = true,
            Secure = context.Request.IsHttps,
            SameSite = sameSite,
            Path = "/",
            IsEssential = true,
        });
    }
}

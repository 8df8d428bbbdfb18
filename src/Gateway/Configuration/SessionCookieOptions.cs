namespace Distributed.Gateway.Configuration;

/// <summary>Session cookie issuing and signing.</summary>
public sealed class SessionCookieOptions
{
    /// <summary>
    /// Base64 HMAC key (at least 32 bytes) shared by every gateway, so a cookie issued by one validates on all.
    /// <value>Default: a random key per process, with a warning (cookies then do not survive a restart or cross gateways).</value>
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>
    /// Keys this gateway signed with before (base64, at least 32 bytes each): cookies they signed are still accepted and
    /// issued again with <see cref="SigningKey"/>, so keys rotate without moving sessions. <value>Default: none.</value>
    /// </summary>
    public List<string> PreviousSigningKeys { get; set; } = [];

    /// <summary>SameSite mode of issued cookies. <value>Default: Lax.</value></summary>
    public SameSiteMode SameSite { get; set; } = SameSiteMode.Lax;
}

namespace Distributed.Gateway.SessionKeys;

/// <summary>
/// JWT bearer authentication for <c>Claim:&lt;type&gt;</c> session keys (<c>Balancer:Authentication</c>): the gateway
/// validates the request's <c>Authorization: Bearer</c> token and keys the session by one of its claims. It does not
/// authorize: a request without a valid token is forwarded keyless (as the pool's policy sends it), and the backend decides what it
/// may do. Either <see cref="Authority"/> (an OpenID Connect issuer, whose signing keys are fetched from its discovery
/// document) or <see cref="SigningKey"/> (a shared HMAC key) is required, with <see cref="Audience"/>. Checked by
/// <see cref="ClaimAuthenticationOptionsValidator"/>; a pool keyed by a claim without it is refused with the pools.
/// </summary>
public sealed class ClaimAuthenticationOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer:Authentication";

    /// <summary>OpenID Connect authority (an https URL); tokens must be issued by it and signed with its published keys.</summary>
    public string? Authority { get; set; }

    /// <summary>The audience tokens must name (<c>aud</c>). Required.</summary>
    public string? Audience { get; set; }

    /// <summary>Issuer (<c>iss</c>) tokens signed with <see cref="SigningKey"/> must name. Required with it.</summary>
    public string? Issuer { get; set; }

    /// <summary>Base64 HMAC-SHA256 key (at least 32 bytes) that signs the tokens, instead of an <see cref="Authority"/>.</summary>
    public string? SigningKey { get; set; }

    /// <summary>Whether anything is configured.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(SigningKey);
}

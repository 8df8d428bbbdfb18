using Distributed.Gateway.Configuration;
using Distributed.ServiceDefaults;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Distributed.Gateway.SessionKeys;

/// <summary>
/// JWT bearer authentication for <c>Claim:&lt;type&gt;</c> session keys (<c>Balancer:Authentication</c>): the gateway
/// validates the request's <c>Authorization: Bearer</c> token and keys the session by one of its claims. It does not
/// authorize: a request without a valid token is forwarded keyless (least-loaded), and the backend decides what it
/// may do. Either <see cref="Authority"/> (an OpenID Connect issuer, whose signing keys are fetched from its discovery
/// document) or <see cref="SigningKey"/> (a shared HMAC key) is required, with <see cref="Audience"/>.
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

    /// <summary>
    /// Problems with these settings for pools keyed by a claim (<paramref name="claimPools"/>: their names), each naming
    /// its configuration key; a claim pool without authentication would be silently keyless, so it is refused.
    /// </summary>
    public IReadOnlyList<string> Validate(IReadOnlyCollection<string> claimPools)
    {
        ArgumentNullException.ThrowIfNull(claimPools);
        var errors = new List<string>();
        if (!IsConfigured)
        {
            if (claimPools.Count > 0)
            {
                errors.Add($"{string.Join(", ", claimPools.Select(p => $"{BalancerOptions.SectionName}:Pools:{p}:SessionKey"))} uses Claim:<type>, which needs authenticated users: configure JWT bearer under {SectionName} (Authority or SigningKey, and Audience). Without it every request of the pool would be keyless.");
            }

            return errors;
        }

        if (!string.IsNullOrWhiteSpace(Authority) && !string.IsNullOrWhiteSpace(SigningKey))
        {
            errors.Add($"{SectionName}: set Authority or SigningKey, not both.");
        }

        if (!string.IsNullOrWhiteSpace(Authority) && (!Uri.TryCreate(Authority, UriKind.Absolute, out var authority) || authority.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"{SectionName}:Authority must be an absolute https URL (was '{Authority}').");
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            errors.Add($"{SectionName}:Audience must be set: tokens issued for other services are not accepted.");
        }

        if (!string.IsNullOrWhiteSpace(SigningKey))
        {
            if (string.IsNullOrWhiteSpace(Issuer))
            {
                errors.Add($"{SectionName}:Issuer must be set with {SectionName}:SigningKey.");
            }

            if (SecretStrength.IsPlaceholder(SigningKey))
            {
                errors.Add($"{SectionName}:SigningKey is the placeholder value from the deployment manifests; generate one with openssl rand -base64 32.");
            }
            else if (DecodeKey(SigningKey) is not { Length: >= 32 })
            {
                errors.Add($"{SectionName}:SigningKey must be base64 of at least 32 bytes.");
            }
        }

        return errors;
    }

    internal static byte[]? DecodeKey(string key)
    {
        var buffer = new byte[(key.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(key, buffer, out var written) ? buffer[..written] : null;
    }
}

/// <summary>Registers JWT bearer authentication when pools are keyed by a claim, and refuses such pools without it.</summary>
internal static class ClaimAuthenticationExtensions
{
    public static WebApplicationBuilder AddClaimAuthentication(this WebApplicationBuilder builder)
    {
        var options = new ClaimAuthenticationOptions();
        builder.Configuration.GetSection(ClaimAuthenticationOptions.SectionName).Bind(options);
        var claimPools = builder.Configuration.GetSection($"{BalancerOptions.SectionName}:Pools").GetChildren()
            .Where(pool => SessionKeySourceFactory.TryParse(pool["SessionKey"], out var spec, out _) && spec.Kind == SessionKeyKind.Claim)
            .Select(pool => pool.Key)
            .ToList();
        if (options.Validate(claimPools) is { Count: > 0 } errors)
        {
            throw new OptionsValidationException(ClaimAuthenticationOptions.SectionName, typeof(ClaimAuthenticationOptions), errors);
        }

        builder.Services.AddSingleton(Options.Create(options));
        if (!options.IsConfigured)
        {
            return builder;
        }

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(jwt =>
        {
            // Claim types as the token spells them (Claim:sub means "sub"), not mapped to WS-Federation URIs.
            jwt.MapInboundClaims = false;
            jwt.Audience = options.Audience;
            if (!string.IsNullOrWhiteSpace(options.Authority))
            {
                jwt.Authority = options.Authority;
            }
            else
            {
                jwt.TokenValidationParameters.ValidIssuer = options.Issuer;
                jwt.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(ClaimAuthenticationOptions.DecodeKey(options.SigningKey!));
                jwt.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
            }
        });
        return builder;
    }

    /// <summary>Authenticates requests (never challenges) so that <c>Claim:</c> session keys see the user.</summary>
    public static WebApplication UseClaimAuthentication(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<ClaimAuthenticationOptions>>().Value.IsConfigured)
        {
            app.UseAuthentication();
        }

        return app;
    }
}

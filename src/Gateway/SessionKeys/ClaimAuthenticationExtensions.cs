using Distributed.ServiceDefaults;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Distributed.Gateway.SessionKeys;

/// <summary>Registers JWT bearer authentication (<see cref="ClaimAuthenticationOptions"/>) when it is configured.</summary>
internal static class ClaimAuthenticationExtensions
{
    public static WebApplicationBuilder AddClaimAuthentication(this WebApplicationBuilder builder)
    {
        // Whether authentication is registered at all is decided now, before the host is built: the section is checked
        // now, by the validator that also runs at start-up. Registering it unused would put its middleware on every request.
        var options = ValidatedOptions.Load(builder.Configuration, ClaimAuthenticationOptions.SectionName, new ClaimAuthenticationOptionsValidator());
        builder.Services.AddValidatedOptions<ClaimAuthenticationOptions, ClaimAuthenticationOptionsValidator>(builder.Configuration, ClaimAuthenticationOptions.SectionName);
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
                jwt.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(SigningKeys.TryDecode(options.SigningKey, out var key) ? key : throw new InvalidOperationException("Validated at start-up."));
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

using System.Net;
using Microsoft.Extensions.Options;

namespace Distributed.ServiceDefaults;

/// <summary>Checks <see cref="ClusterHostingOptions"/>; every message names the offending key.</summary>
public sealed class ClusterHostingOptionsValidator : IValidateOptions<ClusterHostingOptions>
{
    private const string Section = ClusterHostingOptions.SectionName;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ClusterHostingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var needsRedis = options.Clustering == ClusteringMode.Redis || options.EffectiveStorage == GrainStorageMode.Redis;
        if (needsRedis && string.IsNullOrWhiteSpace(options.Redis))
        {
            errors.Add($"{Section}:Redis must be set to a Redis connection string (e.g. 127.0.0.1:6379) when {Section}:Clustering or {Section}:Storage is Redis.");
        }

        if (options.Redis is not null && SecretStrength.IsPlaceholder(options.Redis))
        {
            errors.Add($"{Section}:Redis carries the placeholder password from the deployment manifests ('{SecretStrength.PlaceholderMarker}…'); set a real one in the Redis secret.");
        }

        if (options.SiloPort is < 1 or > 65535)
        {
            errors.Add($"{Section}:SiloPort must be between 1 and 65535 (was {options.SiloPort}).");
        }

        if (options.GatewayPort is < 1 or > 65535)
        {
            errors.Add($"{Section}:GatewayPort must be between 1 and 65535 (was {options.GatewayPort}).");
        }

        if (options.SiloPort == options.GatewayPort)
        {
            errors.Add($"{Section}:SiloPort and {Section}:GatewayPort must differ (both {options.SiloPort}).");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            errors.Add($"{Section}:ClusterId must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            errors.Add($"{Section}:ServiceId must not be empty.");
        }

        if (options.SessionRecordMargin < TimeSpan.Zero || options.SessionRecordMargin > TimeSpan.FromDays(1))
        {
            errors.Add($"{Section}:SessionRecordMargin must be between 0 and 1.00:00:00 (was {options.SessionRecordMargin}).");
        }

        if (options.AdvertisedIp is not null && !IPAddress.TryParse(options.AdvertisedIp, out _))
        {
            errors.Add($"{Section}:AdvertisedIp must be an IP address (was '{options.AdvertisedIp}').");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

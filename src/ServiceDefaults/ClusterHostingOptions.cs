using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Distributed.ServiceDefaults;

/// <summary>Where the Orleans cluster's membership lives.</summary>
public enum ClusteringMode
{
    /// <summary>Single-machine development cluster: one silo on loopback, no external store.</summary>
    Localhost = 0,

    /// <summary>Membership table in Redis (<see cref="ClusterHostingOptions.Redis"/>); any number of silos.</summary>
    Redis = 1,
}

/// <summary>Where grain state (pins, pool registries) is stored.</summary>
public enum GrainStorageMode
{
    /// <summary>Silo memory: lost when the silo holding it stops. Development only.</summary>
    Memory = 0,

    /// <summary>Redis, with ETag-checked writes.</summary>
    Redis = 1,
}

/// <summary>
/// The <c>Orleans</c> configuration section, shared by silos and gateways (which are Orleans clients).
/// </summary>
public sealed class ClusterHostingOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Orleans";

    /// <summary>Membership provider. <value>Default: <see cref="ClusteringMode.Localhost"/>.</value></summary>
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>Grain storage. <value>Default: Redis when <see cref="Clustering"/> is Redis, else Memory.</value></summary>
    public GrainStorageMode? Storage { get; set; }

    /// <summary>Redis connection string (StackExchange.Redis syntax), required when Redis is used.</summary>
    public string? Redis { get; set; }

    /// <summary>Orleans cluster id; silos and gateways of one deployment share it. <value>Default: <c>distributed</c>.</value></summary>
    public string ClusterId { get; set; } = "distributed";

    /// <summary>Orleans service id; keys the stored grain state. <value>Default: <c>distributed</c>.</value></summary>
    public string ServiceId { get; set; } = "distributed";

    /// <summary>Silo-to-silo port. <value>Default: 11111.</value></summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port on which silos accept clients (gateways). <value>Default: 30000.</value></summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// Address a silo advertises to the cluster. <value>Default: loopback with Localhost clustering; otherwise
    /// the address Orleans picks from the machine's interfaces.</value>
    /// </summary>
    public string? AdvertisedIp { get; set; }

    /// <summary>
    /// How long a lapsed pin's record stays in Redis after its expiry, covering an expiry extension a session grain
    /// keeps in memory until its activation leaves (two idle minutes). <value>Default: 5 minutes.</value>
    /// </summary>
    public TimeSpan SessionRecordMargin { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Mutual TLS between silos and gateways (<c>Orleans:Tls:*</c>). <value>Default: off.</value></summary>
    public ClusterTlsOptions Tls { get; set; } = new();

    /// <summary>The certificate material <see cref="Tls"/> names, loaded and checked by <see cref="Load"/>; <c>null</c> when TLS is off.</summary>
    public ClusterTls? TlsMaterial { get; private set; }

    /// <summary>The effective storage mode.</summary>
    public GrainStorageMode EffectiveStorage => Storage ?? (Clustering == ClusteringMode.Redis ? GrainStorageMode.Redis : GrainStorageMode.Memory);

    /// <summary>Problems with these options, each naming its configuration key; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var needsRedis = Clustering == ClusteringMode.Redis || EffectiveStorage == GrainStorageMode.Redis;
        if (needsRedis && string.IsNullOrWhiteSpace(Redis))
        {
            errors.Add($"{SectionName}:Redis must be set to a Redis connection string (e.g. 127.0.0.1:6379) when {SectionName}:Clustering or {SectionName}:Storage is Redis.");
        }

        if (Redis is not null && SecretStrength.IsPlaceholder(Redis))
        {
            errors.Add($"{SectionName}:Redis carries the placeholder password from the deployment manifests ('{SecretStrength.PlaceholderMarker}…'); set a real one in the Redis secret.");
        }

        if (SiloPort is < 1 or > 65535)
        {
            errors.Add($"{SectionName}:SiloPort must be between 1 and 65535 (was {SiloPort}).");
        }

        if (GatewayPort is < 1 or > 65535)
        {
            errors.Add($"{SectionName}:GatewayPort must be between 1 and 65535 (was {GatewayPort}).");
        }

        if (SiloPort == GatewayPort)
        {
            errors.Add($"{SectionName}:SiloPort and {SectionName}:GatewayPort must differ (both {SiloPort}).");
        }

        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            errors.Add($"{SectionName}:ClusterId must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(ServiceId))
        {
            errors.Add($"{SectionName}:ServiceId must not be empty.");
        }

        if (SessionRecordMargin < TimeSpan.Zero || SessionRecordMargin > TimeSpan.FromDays(1))
        {
            errors.Add($"{SectionName}:SessionRecordMargin must be between 0 and 1.00:00:00 (was {SessionRecordMargin}).");
        }

        if (AdvertisedIp is not null && !IPAddress.TryParse(AdvertisedIp, out _))
        {
            errors.Add($"{SectionName}:AdvertisedIp must be an IP address (was '{AdvertisedIp}').");
        }

        return errors;
    }

    /// <summary>
    /// Reads and validates the section; throws with every problem listed when it is invalid. Then hides the scalar
    /// <c>Orleans:Clustering</c> from Orleans: Orleans 10 reads the same section itself and takes any
    /// <c>Orleans:Clustering</c> value as a request for a named clustering provider (<c>Orleans:Clustering:ProviderType</c>),
    /// failing start-up. Everything else in the section (ClusterId, ServiceId) means the same to both. Loads the TLS
    /// certificates when <c>Orleans:Tls:Enabled</c> is true, so an unusable certificate stops start-up too.
    /// Call before <c>UseOrleans</c>/<c>UseOrleansClient</c>, which read configuration eagerly.
    /// </summary>
    public static ClusterHostingOptions Load(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new ClusterHostingOptions();
        var section = configuration.GetSection(SectionName);
        var errors = new List<string>();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            errors.Add($"{SectionName}: {ex.Message} Clustering is Localhost or Redis; Storage is Memory or Redis.");
        }

        errors.AddRange(options.Validate());
        options.TlsMaterial = ClusterTls.Load(options.Tls, TimeProvider.System.GetUtcNow(), errors);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(SectionName, typeof(ClusterHostingOptions), errors);
        }

        configuration[$"{SectionName}:{nameof(Clustering)}"] = null;
        return options;
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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

    /// <summary>The certificate material <see cref="Tls"/> names, loaded and checked by <see cref="Load(IConfiguration)"/>; <c>null</c> when TLS is off.</summary>
    public ClusterTls? TlsMaterial { get; private set; }

    /// <summary>The effective storage mode.</summary>
    public GrainStorageMode EffectiveStorage => Storage ?? (Clustering == ClusteringMode.Redis ? GrainStorageMode.Redis : GrainStorageMode.Memory);

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
        var options = ValidatedOptions.Load<ClusterHostingOptions>(
            configuration,
            SectionName,
            new ClusterHostingOptionsValidator(),
            (loaded, errors) => loaded.TlsMaterial = ClusterTls.Load(loaded.Tls, TimeProvider.System.GetUtcNow(), errors),
            bindingHint: "Clustering is Localhost or Redis; Storage is Memory or Redis.");
        configuration[$"{SectionName}:{nameof(Clustering)}"] = null;
        return options;
    }

    /// <summary>
    /// <see cref="Load(IConfiguration)"/> for a host: the options are also registered as
    /// <see cref="IOptions{TOptions}"/>, as loaded (the section cannot be bound again once <c>Orleans:Clustering</c> is hidden).
    /// </summary>
    public static ClusterHostingOptions Load(IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = Load(builder.Configuration);
        builder.Services.AddSingleton(Options.Create(options));
        return options;
    }
}

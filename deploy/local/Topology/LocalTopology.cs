namespace Distributed.Topology;

/// <summary>What <see cref="LocalTopology"/> starts.</summary>
public sealed class TopologyOptions
{
    /// <summary>Silos, clustered through Redis.</summary>
    public int Silos { get; init; } = 2;

    /// <summary>Gateway processes.</summary>
    public int Gateways { get; init; } = 2;

    /// <summary>Echo backends, ids <c>b1</c>..<c>bN</c>.</summary>
    public int Backends { get; init; } = 3;

    /// <summary>Gateway load report interval.</summary>
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Pools as configuration under <c>Balancer:</c>: builds the gateway's pool/route settings from the backends.</summary>
    public Func<IReadOnlyList<BackendNode>, IDictionary<string, string>> Balancer { get; init; } = DefaultBalancer;

    /// <summary>
    /// Loopback addresses (e.g. 127.0.0.2–127.0.0.4) for the gateways, which then share one port like replicas behind
    /// one DNS name; <c>null</c> puts every gateway on 127.0.0.1 with its own ports.
    /// </summary>
    public IReadOnlyList<string>? GatewayHosts { get; init; }

    /// <summary>
    /// Redis append-only persistence, as the deployment manifests configure it, so a restarted Redis keeps membership and
    /// pins. Off only to try what a Redis that lost its data does. <value>Default: true.</value>
    /// </summary>
    public bool RedisAppendOnly { get; init; } = true;

    /// <summary>Extra configuration for every silo, e.g. <c>Orleans:Membership:*</c> for fast failure detection.</summary>
    public IDictionary<string, string> SiloSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Extra configuration for every gateway.</summary>
    public IDictionary<string, string> GatewaySettings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The gateways' <c>Balancer:Shutdown:DrainPeriod</c>. Clients of the local topology address each gateway directly,
    /// with no DNS or endpoint list that needs time to drop a stopping one, so by default gateways stop without a drain;
    /// tests that model a rotation (a client that follows readiness) set one.
    /// </summary>
    public TimeSpan GatewayDrainPeriod { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// How long <see cref="LocalTopology.RestartAsync"/> waits after SIGTERM before SIGKILL, like Kubernetes'
    /// <c>terminationGracePeriodSeconds</c>: longer than the hosts' own shutdown timeout (30 s), so a graceful stop is
    /// never cut short. <value>Default: 40 s.</value>
    /// </summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>
    /// Membership and messaging settings that declare a killed silo dead in a few seconds instead of Orleans' production
    /// default (about 15–20 s) and bound silo-to-silo calls to 5 s, for chaos tests and local experiments on one machine.
    /// </summary>
    public static IDictionary<string, string> FastFailureDetection() => new Dictionary<string, string>
    {
        ["Orleans:Membership:ProbeTimeout"] = "00:00:01",
        ["Orleans:Membership:NumMissedProbesLimit"] = "2",
        ["Orleans:Membership:NumVotesForDeathDeclaration"] = "1",
        ["Orleans:Membership:TableRefreshTimeout"] = "00:00:02",
        ["Orleans:Membership:IAmAliveTablePublishTimeout"] = "00:00:05",
        // Silo-to-silo calls addressed by a stale membership view (right after every silo restarted at once) would
        // otherwise wait Orleans' 30 s response timeout.
        ["Orleans:Messaging:ResponseTimeout"] = "00:00:05",
    };

    /// <summary>One pool <c>web</c> keyed by header <c>X-Session-Id</c> over every backend.</summary>
    public static IDictionary<string, string> DefaultBalancer(IReadOnlyList<BackendNode> backends) =>
        PoolSettings("web", "Header:X-Session-Id", backends);

    /// <summary>Adds pool <paramref name="pool"/> over <paramref name="backends"/>, routed from <paramref name="path"/>.</summary>
    public static Dictionary<string, string> AddRoutedPool(Dictionary<string, string> settings, string pool, string sessionKey, IReadOnlyList<BackendNode> backends, string path, int order)
    {
        ArgumentNullException.ThrowIfNull(settings);
        foreach (var (key, value) in PoolSettings(pool, sessionKey, backends))
        {
            settings[key] = value;
        }

        settings[$"Balancer:Routes:{pool}:Pool"] = pool;
        settings[$"Balancer:Routes:{pool}:Path"] = path;
        settings[$"Balancer:Routes:{pool}:Order"] = order.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return settings;
    }

    /// <summary>The settings of one pool over <paramref name="backends"/>.</summary>
    public static Dictionary<string, string> PoolSettings(string pool, string sessionKey, IReadOnlyList<BackendNode> backends)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [$"Balancer:Pools:{pool}:SessionKey"] = sessionKey,
        };
        foreach (var backend in backends)
        {
            settings[$"Balancer:Pools:{pool}:Backends:{backend.Id}:Address"] = backend.Address.ToString();
        }

        return settings;
    }
}

/// <summary>An echo backend process, serving HTTPS when <paramref name="Https"/> is set.</summary>
public sealed record BackendNode(string Id, int Port, ManagedProcess Process, bool Https = false)
{
    /// <summary>Base address.</summary>
    public Uri Address => new($"{(Https ? "https" : "http")}://127.0.0.1:{Port}/");
}

/// <summary>A silo process.</summary>
public sealed record SiloNode(string Name, int SiloPort, int GatewayPort, int HttpPort)
{
    /// <summary>The running process; replaced by a restart.</summary>
    public ManagedProcess? Process { get; set; }
}

/// <summary>A gateway process: public listener on <see cref="Host"/>:<see cref="Port"/>, management on <see cref="AdminPort"/>.</summary>
public sealed record GatewayNode(string Name, int Port, int AdminPort, string Host = "127.0.0.1")
{
    /// <summary>The running process; replaced by a restart.</summary>
    public ManagedProcess? Process { get; set; }

    /// <summary>Base address of client traffic.</summary>
    public Uri Address => new($"http://{Host}:{Port}/");

    /// <summary>Base address of the management listener (health, admin API).</summary>
    public Uri AdminAddress => new($"http://{Host}:{AdminPort}/");
}

/// <summary>
/// A whole local deployment of real processes on loopback: Redis (membership and grain storage), silos clustered
/// through it, gateways and echo backends. Members can be killed (SIGKILL) and restarted by name.
/// </summary>
public sealed class LocalTopology : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly TopologyOptions _options;
    private readonly string _clusterId = $"test-{Guid.NewGuid():N}";
    private readonly List<BackendNode> _backends = [];
    private readonly List<SiloNode> _silos = [];
    private readonly List<GatewayNode> _gateways = [];
    private IDictionary<string, string> _balancer = new Dictionary<string, string>();

    private LocalTopology(TopologyOptions options, RedisServer redis)
    {
        _options = options;
        Redis = redis;
    }

    /// <summary>The Orleans cluster id (and service id) of this deployment.</summary>
    public string ClusterId => _clusterId;

    /// <summary>Redis holding membership and grain state.</summary>
    public RedisServer Redis { get; }

    /// <summary>Echo backends.</summary>
    public IReadOnlyList<BackendNode> Backends => _backends;

    /// <summary>Silos.</summary>
    public IReadOnlyList<SiloNode> Silos => _silos;

    /// <summary>Gateways.</summary>
    public IReadOnlyList<GatewayNode> Gateways => _gateways;

    /// <summary>The admin API key of every gateway.</summary>
    public string AdminApiKey { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>A shared HMAC key so cookies issued by one gateway validate on every other.</summary>
    public string CookieSigningKey { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>Starts everything and waits until each member answers its health endpoint.</summary>
    public static async Task<LocalTopology> StartAsync(TopologyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var redis = await RedisServer.StartAsync(options.RedisAppendOnly);
        var topology = new LocalTopology(options, redis);
        try
        {
            await topology.StartAllAsync();
            return topology;
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync()
    {
        var backendPorts = FreePorts.Next(_options.Backends);
        var backendTasks = backendPorts.Select((port, i) => EchoBackendProcess.StartEchoAsync($"b{i + 1}", port)).ToArray();
        var backends = await Task.WhenAll(backendTasks);
        for (var i = 0; i < backends.Length; i++)
        {
            _backends.Add(new BackendNode($"b{i + 1}", backendPorts[i], backends[i]));
        }

        _balancer = _options.Balancer(_backends);

        for (var i = 0; i < _options.Silos; i++)
        {
            var ports = FreePorts.Next(3);
            _silos.Add(new SiloNode($"silo{i + 1}", ports[0], ports[1], ports[2]));
        }

        // The first silo alone first: later ones join an existing membership table, which is quicker and avoids
        // every silo racing to create it on a 2-core machine.
        await StartSiloAsync(_silos[0]);
        await Task.WhenAll(_silos.Skip(1).Select(StartSiloAsync));

        if (_options.GatewayHosts is { } hosts)
        {
            var shared = FreePorts.Next(2);
            for (var i = 0; i < hosts.Count; i++)
            {
                _gateways.Add(new GatewayNode($"gateway{i + 1}", shared[0], shared[1], hosts[i]));
            }
        }
        else
        {
            for (var i = 0; i < _options.Gateways; i++)
            {
                var ports = FreePorts.Next(2);
                _gateways.Add(new GatewayNode($"gateway{i + 1}", ports[0], ports[1]));
            }
        }

        await Task.WhenAll(_gateways.Select(StartGatewayAsync));
    }

    /// <summary>Starts (or restarts) a silo and waits until it is an active cluster member.</summary>
    public async Task StartSiloAsync(SiloNode silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Process = ManagedProcess.Start(
            silo.Name,
            RepoPaths.AppDll("src/Silo", "Distributed.Silo"),
            [
                "--urls", $"http://127.0.0.1:{silo.HttpPort}",
                .. ClusterArgs(),
                "--Orleans:SiloPort", silo.SiloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--Orleans:GatewayPort", silo.GatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--Orleans:AdvertisedIp", "127.0.0.1",
                .. Args(_options.SiloSettings),
            ]);
        using var http = new HttpClient();
        await Wait.ForHttpOkAsync(http, new Uri($"http://127.0.0.1:{silo.HttpPort}/readyz"), StartTimeout, silo.Process);
    }

    /// <summary>Starts (or restarts) a gateway and waits until it answers.</summary>
    public async Task StartGatewayAsync(GatewayNode gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        List<string> args =
        [
            "--urls", $"http://{gateway.Host}:{gateway.Port}",
            "--Balancer:Admin:Url", $"http://{gateway.Host}:{gateway.AdminPort}",
            .. ClusterArgs(),
            "--Balancer:GatewayId", gateway.Name,
            "--Balancer:ReportInterval", _options.ReportInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            "--Balancer:Cookies:SigningKey", CookieSigningKey,
            // Every client of a local topology is 127.0.0.1, standing for many users: no per-client budget of new
            // sessions unless a test sets one (GatewaySettings come after this and win).
            "--Balancer:NewSessions:PerClientPerSecond", "0",
            "--Balancer:Shutdown:DrainPeriod", _options.GatewayDrainPeriod.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        ];
        args.AddRange(Args(_balancer));
        args.AddRange(Args(_options.GatewaySettings));

        // The key goes in the environment, not on a command line that any local user can read with ps.
        gateway.Process = ManagedProcess.Start(
            gateway.Name,
            RepoPaths.AppDll("src/Gateway", "Distributed.Gateway"),
            args,
            new Dictionary<string, string> { ["Balancer__Admin__ApiKey"] = AdminApiKey });
        using var http = new HttpClient();
        await Wait.ForHttpOkAsync(http, new Uri(gateway.AdminAddress, "/readyz"), StartTimeout, gateway.Process);
    }

    /// <summary>Kills a member with SIGKILL (<c>kill -9</c>): <c>silo2</c>, <c>gateway1</c>, <c>b3</c> or <c>redis</c>.</summary>
    public void Kill(string name)
    {
        if (name == "redis")
        {
            Redis.KillHard();
            return;
        }

        ProcessOf(name).KillHard();
    }

    /// <summary>
    /// A gateway's readiness as its <c>/readyz</c> states it (<c>Healthy</c>, <c>Degraded</c>, <c>Unhealthy</c>), or the
    /// empty string when it does not answer.
    /// </summary>
    public async Task<string> GatewayReadinessAsync(int gateway)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var response = await http.GetAsync(new Uri(Gateways[gateway].AdminAddress, "/readyz"));
            using var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return body.RootElement.GetProperty("status").GetString() ?? "";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return "";
        }
    }

    /// <summary>Pauses a member with SIGSTOP (its clients' requests queue unanswered) until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync(string name) => ProcessOf(name).PauseAsync();

    /// <summary>Resumes a member paused with <see cref="PauseAsync"/> (SIGCONT).</summary>
    public Task ResumeAsync(string name) => ProcessOf(name).ResumeAsync();

    /// <summary>
    /// Restarts a member (after a kill, or stopping it gracefully first: SIGTERM, then SIGKILL after
    /// <see cref="TopologyOptions.StopGrace"/>) and waits until it is ready.
    /// </summary>
    public async Task RestartAsync(string name)
    {
        if (name == "redis")
        {
            await Redis.RestartAsync();
            return;
        }

        await ProcessOf(name).StopAsync(_options.StopGrace);
        if (_silos.Find(s => s.Name == name) is { } silo)
        {
            await StartSiloAsync(silo);
        }
        else if (_gateways.Find(g => g.Name == name) is { } gateway)
        {
            await StartGatewayAsync(gateway);
        }
        else
        {
            var backend = _backends.Single(b => b.Id == name);
            _backends[_backends.IndexOf(backend)] = backend with { Process = await EchoBackendProcess.StartEchoAsync(backend.Id, backend.Port) };
        }
    }

    /// <summary>Every member's name and whether it runs, one per line.</summary>
    public string Describe() => string.Join(
        "\n",
        [
            $"redis      127.0.0.1:{Redis.Port}",
            .. _silos.Select(s => $"{s.Name,-10} silo port {s.SiloPort}, gateway port {s.GatewayPort}, health http://127.0.0.1:{s.HttpPort}/readyz{Exited(s.Process)}"),
            .. _gateways.Select(g => $"{g.Name,-10} {g.Address} (management {g.AdminAddress}){Exited(g.Process)}"),
            .. _backends.Select(b => $"{b.Id,-10} {b.Address}{Exited(b.Process)}"),
        ]);

    private static string Exited(ManagedProcess? process) => process is { HasExited: false } ? "" : "  [stopped]";

    private ManagedProcess ProcessOf(string name) =>
        _silos.Find(s => s.Name == name)?.Process
        ?? _gateways.Find(g => g.Name == name)?.Process
        ?? _backends.Find(b => b.Id == name)?.Process
        ?? throw new ArgumentException($"No member named '{name}'. Members: redis, {string.Join(", ", _silos.Select(s => s.Name).Concat(_gateways.Select(g => g.Name)).Concat(_backends.Select(b => b.Id)))}.", nameof(name));

    private static IEnumerable<string> Args(IEnumerable<KeyValuePair<string, string>> settings) =>
        settings.SelectMany(s => new[] { $"--{s.Key}", s.Value });

    private string[] ClusterArgs() =>
    [
        "--Orleans:Clustering", "Redis",
        "--Orleans:Redis", Redis.ConnectionString,
        "--Orleans:ClusterId", _clusterId,
        "--Orleans:ServiceId", _clusterId,
    ];

    /// <summary>Stops gateways, silos, backends and Redis, in that order.</summary>
    public async ValueTask DisposeAsync()
    {
        var grace = TimeSpan.FromSeconds(5);
        await Task.WhenAll(_gateways.Select(g => g.Process).OfType<ManagedProcess>().Select(p => p.StopAsync(grace)));
        await Task.WhenAll(_silos.Select(s => s.Process).OfType<ManagedProcess>().Select(p => p.StopAsync(grace)));
        await Task.WhenAll(_backends.Select(b => b.Process.StopAsync(grace)));
        await Redis.DisposeAsync();
    }
}

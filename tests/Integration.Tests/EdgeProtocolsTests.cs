using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// A gateway whose public listeners come from the standard <c>Kestrel:Endpoints</c> section: HTTPS with a self-signed
/// certificate made here (HTTP/1.1 and HTTP/2 by ALPN, issued session cookies carry <c>Secure</c>) and cleartext
/// HTTP/2 (h2c) passed through to an HTTP/2-only backend, streaming both ways; the management listener stays on its
/// own port beside them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EdgeProtocolsTests(EdgeProtocolsFixture fixture, ITestOutputHelper output) : ProcessTest(output), IClassFixture<EdgeProtocolsFixture>
{
    private LocalTopology Topology => fixture.Topology;

    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Https_ThroughTheGateway_IsProxiedAndIssuesSecureCookies(string version)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            UseCookies = false,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = LocalCertificates.TrustOnly(fixture.Certificate!) },
        });
        using var message = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{fixture.HttpsPort}/profile")
        {
            Version = Version.Parse(version),
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await http.SendAsync(message);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Version.Parse(version), response.Version);
        Assert.Contains(response.Headers.GetValues("X-Backend-Id").Single(), new[] { "b1", "b2" });
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith($"{EdgeProtocolsFixture.CookieName}=", StringComparison.Ordinal));
        Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; httponly", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Management_StaysOnItsOwnPlainListenerBesideTheKestrelEndpoints()
    {
        var gateway = Topology.Gateways[0];
        using var http = new HttpClient();
        using var ready = await http.GetAsync(new Uri(gateway.AdminAddress, "/readyz"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        // The configured endpoints replace Urls: nothing answers on the plain public port any more.
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(gateway.Address));
    }

    [Fact]
    public async Task H2c_StreamingBothWays_PassesThroughToAnHttp2OnlyBackend()
    {
        using var http = new HttpClient
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
        var gateway = new Uri($"http://127.0.0.1:{fixture.H2cPort}");
        using (var plain = await http.GetAsync(new Uri(gateway, "/_echo/stats")))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
            Assert.Equal(HttpVersion.Version20, plain.Version);
            Assert.Equal("h2", plain.Headers.GetValues("X-Backend-Id").Single());
            Assert.Equal("HTTP/2", plain.Headers.GetValues("X-Received-Protocol").Single()); // h2c to the backend too
        }

        // gRPC-style: each message's echo is read before the next is sent, on one request still being written. YARP
        // streams a request body message by message (flushing each) for HTTP/2 requests with a gRPC content type.
        var messages = Channel.CreateUnbounded<byte[]>();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway, "/_echo/stream"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StreamedContent(messages.Reader),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // The first message goes out with the request, as a gRPC client's would; the rest only after their predecessor's echo.
        var sending = http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.True(messages.Writer.TryWrite(Message(0)));
        using var response = await sending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        await using var echoes = await response.Content.ReadAsStreamAsync(timeout.Token);
        for (var i = 0; i < 5; i++)
        {
            var message = Message(i);
            Assert.True(i == 0 || messages.Writer.TryWrite(message));
            var echo = new byte[message.Length];
            await echoes.ReadExactlyAsync(echo, timeout.Token);
            Assert.Equal(message, echo);
        }

        messages.Writer.Complete();
        Assert.Equal(0, await echoes.ReadAsync(new byte[1], timeout.Token));

        static byte[] Message(int i) => Encoding.UTF8.GetBytes($"message {i};");
    }

    [Fact]
    public async Task Http2WebSocket_OverH2c_StaysInFlightThenGetsACloseFrameOnItsBackendsDrainDeadline()
    {
        // A WebSocket over HTTP/2 (extended CONNECT, RFC 8441) on the h2c listener; YARP speaks HTTP/1.1 to the backend.
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("X-Session-Id", $"h2-ws-{Guid.NewGuid():N}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{fixture.H2cPort}/ws/chat"), invoker, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, socket.HttpStatusCode); // HTTP/2 accepts with 200, not 101
        var backend = socket.HttpResponseHeaders!["X-Backend-Id"].Single();
        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        var buffer = new byte[256];
        var echo = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, echo.Count));
        await Wait.UntilAsync(async () => await InFlightAsync(backend) == 1, TimeSpan.FromSeconds(5), "the WebSocket to count in flight on its backend");

        // Drained with a 2 s deadline (timed from the request: the deadline starts when the pool grain takes it).
        var deadline = TimeSpan.FromSeconds(2);
        var drained = Stopwatch.StartNew();
        using (var drain = Admin(HttpMethod.Post, $"/admin/pools/ws/backends/{backend}/drain"))
        {
            drain.Content = JsonContent.Create(new { timeout = "00:00:02" });
            using var response = await fixture.Http.SendAsync(drain, timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var close = await socket.ReceiveAsync(buffer, timeout.Token);
        var closedAfter = drained.Elapsed;
        Assert.Equal(WebSocketMessageType.Close, close.MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
        Assert.Equal("backend drained", close.CloseStatusDescription);
        Assert.True(closedAfter >= deadline - TimeSpan.FromMilliseconds(300), $"Closed {closedAfter} after the drain, before its deadline.");
        // The gateway logs the close as it sends the frame; the console logger writes it a moment later.
        await Wait.UntilAsync(
            () => Task.FromResult(Topology.Gateways[0].Process!.RecentOutput().Contains($"closing a WebSocket to {backend} (backend drained)", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            "the gateway's log line for the close");

        // The client answers; the close handshake ends the stream and it leaves the count.
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
        await Wait.UntilAsync(async () => await InFlightAsync(backend) == 0, TimeSpan.FromSeconds(10), "the ended WebSocket to leave the in-flight count");
        Assert.DoesNotContain("did not finish its close handshake", Topology.Gateways[0].Process!.RecentOutput(), StringComparison.Ordinal);
    }

    private HttpRequestMessage Admin(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(Topology.Gateways[0].AdminAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Topology.AdminApiKey);
        return request;
    }

    private async Task<int> InFlightAsync(string backend)
    {
        using var request = Admin(HttpMethod.Get, "/admin/pools/ws/backends");
        using var response = await fixture.Http.SendAsync(request);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.EnumerateArray().Single(b => b.GetProperty("id").GetString() == backend).GetProperty("clusterInFlight").GetInt32();
    }

    // A request body written message by message, each flushed at once.
    private sealed class StreamedContent(ChannelReader<byte[]> messages) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await foreach (var message in messages.ReadAllAsync(cancellationToken))
            {
                await stream.WriteAsync(message, cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}

/// <summary>
/// One silo; one gateway with an HTTPS and an h2c endpoint in <c>Kestrel:Endpoints</c> (certificate made here); two
/// echo backends behind pool <c>web</c> and, keyed by header <c>X-Session-Id</c>, pool <c>ws</c> (<c>/ws/…</c>); an
/// HTTP/2-only one behind pool <c>h2</c> (<c>/_echo/…</c>).
/// </summary>
public sealed class EdgeProtocolsFixture : TopologyFixture
{
    public const string CookieName = "dist_tls";
    private readonly string _directory = Directory.CreateTempSubdirectory("distributed-tls-").FullName;
    private string? _certificatePath;
    private int _http2Port;
    private ManagedProcess? _http2Backend;

    public int HttpsPort { get; } = FreePorts.Next()[0];

    public int H2cPort { get; } = FreePorts.Next()[0];

    public X509Certificate2? Certificate { get; private set; }

    public override async Task InitializeAsync()
    {
        using var created = LocalCertificates.CreateLoopbackServer("distributed gateway (test)");
        _certificatePath = LocalCertificates.WritePfx(created, Path.Combine(_directory, "gateway.pfx"));
        Certificate = X509CertificateLoader.LoadCertificate(created.Export(X509ContentType.Cert));

        // An echo backend that speaks HTTP/2 only (h2c with prior knowledge), behind pool h2 for /_echo/ paths.
        _http2Port = FreePorts.Next()[0];
        _http2Backend = ManagedProcess.Start(
            "echo-h2",
            RepoPaths.AppDll("samples/EchoBackend", "Distributed.EchoBackend"),
            ["--urls", $"http://127.0.0.1:{_http2Port}", "--Kestrel:EndpointDefaults:Protocols", "Http2", "--Echo:Id", "h2"]);
        using (var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact })
        {
            await Wait.ForHttpOkAsync(h2c, new Uri($"http://127.0.0.1:{_http2Port}/healthz"), TimeSpan.FromSeconds(60), _http2Backend);
        }

        await base.InitializeAsync();
    }

    protected override TopologyOptions Options() => new()
    {
        Silos = 1,
        Gateways = 1,
        Backends = 2,
        Balancer = backends =>
        {
            var settings = TopologyOptions.AddRoutedPool([], "web", $"Cookie:{CookieName}", backends, "/{**rest}", order: 0);
            TopologyOptions.AddRoutedPool(settings, "h2", "", [new BackendNode("h2", _http2Port, _http2Backend!)], "/_echo/{**rest}", order: -1);
            settings["Balancer:Pools:h2:BackendProtocol"] = "Http2";
            settings["Balancer:Pools:h2:HealthCheck:Enabled"] = "false"; // the probes speak HTTP/1.1
            TopologyOptions.AddRoutedPool(settings, "ws", "Header:X-Session-Id", backends, "/ws/{**rest}", order: -1);
            return settings;
        },
        GatewaySettings = new Dictionary<string, string>
        {
            ["Kestrel:Endpoints:Https:Url"] = $"https://127.0.0.1:{HttpsPort}",
            ["Kestrel:Endpoints:Https:Certificate:Path"] = _certificatePath!,
            ["Kestrel:Endpoints:H2c:Url"] = $"http://127.0.0.1:{H2cPort}",
            ["Kestrel:Endpoints:H2c:Protocols"] = "Http2",
        },
    };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_http2Backend is not null)
        {
            await _http2Backend.DisposeAsync();
        }

        Certificate?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

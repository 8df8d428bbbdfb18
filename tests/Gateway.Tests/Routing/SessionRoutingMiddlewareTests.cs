using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Distributed.Gateway.Routing;
using Distributed.Gateway.SessionKeys;
using Distributed.Gateway.Tests.Fakes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;
using static Distributed.Gateway.Tests.Fakes.GatewayHarness;

namespace Distributed.Gateway.Tests.Routing;

/// <summary>
/// The routing step of the proxy pipeline, as YARP tests its middleware: a <see cref="DefaultHttpContext"/> carrying a
/// reverse-proxy feature, and a <c>next</c> that stands for YARP's forwarder.
/// </summary>
[Trait("Category", "Unit")]
public sealed class SessionRoutingMiddlewareTests : IDisposable
{
    private static readonly DestinationState[] Destinations = [new("b1"), new("b2"), new("b3")];
    private readonly ServiceProvider _services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
    private readonly List<(string Backend, int InFlight)> _forwarded = [];
    private GatewayHarness _gateway = new();

    // One per test, as ASP.NET Core keeps one per pipeline (made by the first request, with its logger).
    private SessionRoutingMiddleware? _middleware;

    /// <summary>What the forwarder does with each request, by attempt: a status code, or a transport error.</summary>
    private Func<int, (int Status, ForwarderError? Error)> _backend = _ => (200, null);

    public void Dispose()
    {
        _gateway.Dispose();
        _services.Dispose();
    }

    [Fact]
    public async Task InvokeAsync_ReturningSession_ForwardsOnlyToItsPinCountedInFlightMeanwhile()
    {
        var key = _gateway.KeyPlacedOn("b3");
        _gateway.Pool.Pins.Set(key, new CachedPin("b2", 4, Generation, _gateway.Time.GetUtcNow()));

        var context = await SendAsync(Request(key));

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal([("b2", 1)], _forwarded);
        Assert.Equal(0, _gateway.Pool.View.Find("b2")!.Counter.InFlight);
        Assert.Equal((1L, 0L), _gateway.Pool.View.Find("b2")!.Counter.TakeOutcomes());
    }

    [Fact]
    public async Task InvokeAsync_DecisionPastTheBudgetByMoreThan50Ms_IsLoggedOnceASecondWithTheCountSince()
    {
        // The clock jumps while the grain is asked, as it does for a process that is not scheduled meanwhile.
        var log = new EventLog<SessionRoutingMiddleware>();
        Task<DefaultHttpContext> SlowAsync(int i, TimeSpan late)
        {
            var key = _gateway.KeyPlacedOn("b1", $"slow-{i}");
            _gateway.Session(key).OnGetOrPin = () => _gateway.Time.Advance(late);
            return SendAsync(Request(key), log);
        }

        await SlowAsync(0, TimeSpan.FromMilliseconds(300)); // budget + 50 ms: not an overrun
        Assert.Empty(log.Events);
        var context = await SlowAsync(1, TimeSpan.FromMilliseconds(301));
        await SlowAsync(2, TimeSpan.FromMilliseconds(400)); // within the same second: counted, not logged
        _gateway.Time.Advance(TimeSpan.FromSeconds(1));
        await SlowAsync(3, TimeSpan.FromMilliseconds(350));

        Assert.Equal(200, context.Response.StatusCode); // routed all the same
        Assert.Equal([3004, 3004], log.Events.Select(e => e.Id));
        Assert.Contains("took 301 ms, past its wait budget of 250 ms", log.Events.First().Message, StringComparison.Ordinal);
        Assert.EndsWith("1 decision(s) overran since the last such message.", log.Events.First().Message, StringComparison.Ordinal);
        Assert.EndsWith("2 decision(s) overran since the last such message.", log.Events.Last().Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvokeAsync_TwoSessionHeaders_Is400AndNothingIsForwarded()
    {
        var context = Request("a");
        context.Request.Headers.Append("X-Session-Id", "b");

        await SendAsync(context);

        Assert.Equal(400, context.Response.StatusCode);
        Assert.Empty(_forwarded);
        Assert.Empty(_gateway.Grains.Sessions);
    }

    [Fact]
    public async Task InvokeAsync_NoUsableBackend_Is503WithRetryAfter()
    {
        _gateway.Adopt(
            Backend("b1", keepsSessions: false, acceptsNew: false),
            Backend("b2", keepsSessions: false, acceptsNew: false),
            Backend("b3", keepsSessions: false, acceptsNew: false));

        var context = await SendAsync(Request("someone"));

        Assert.Equal(503, context.Response.StatusCode);
        Assert.Equal("1", context.Response.Headers.RetryAfter.ToString());
        Assert.Empty(_forwarded);
    }

    [Fact]
    public async Task InvokeAsync_GetWhoseBackendIsUnreachable_IsRetriedOnceWhereARepinWouldGoAndThePinStays()
    {
        var key = _gateway.KeyPlacedOn("b1");
        var pin = new CachedPin("b1", 3, Generation, _gateway.Time.GetUtcNow());
        _gateway.Pool.Pins.Set(key, pin);
        _backend = attempt => attempt == 0 ? (502, ForwarderError.Request) : (200, null);

        var context = await SendAsync(Request(key));

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal(["b1", _gateway.Placed(key, excluded: "b1")], _forwarded.Select(f => f.Backend));
        Assert.Same(pin, _gateway.Pool.Pins.Get(key));
        Assert.Equal((1L, 1L), _gateway.Pool.View.Find("b1")!.Counter.TakeOutcomes());
    }

    [Fact]
    public async Task InvokeAsync_PostWithABodyWhoseBackendIsUnreachable_IsNotRetried()
    {
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Pool.Pins.Set(key, new CachedPin("b1", 3, Generation, _gateway.Time.GetUtcNow()));
        _backend = _ => (502, ForwarderError.Request);
        var context = Request(key);
        context.Request.Method = HttpMethods.Post;
        context.Request.ContentLength = 5;

        await SendAsync(context);

        Assert.Equal(502, context.Response.StatusCode);
        Assert.Equal(["b1"], _forwarded.Select(f => f.Backend));
    }

    [Fact]
    public async Task InvokeAsync_UnreachableButTheResponseHadStarted_IsNeverRetried()
    {
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Pool.Pins.Set(key, new CachedPin("b1", 3, Generation, _gateway.Time.GetUtcNow()));
        _backend = _ => (502, ForwarderError.Request);
        var context = Request(key);
        context.Features.Set<IHttpResponseFeature>(new StartedResponseFeature());

        await SendAsync(context);

        Assert.Equal(["b1"], _forwarded.Select(f => f.Backend));
    }

    [Fact]
    public async Task InvokeAsync_RetryDisabled_AnUnreachableGetIsAnswered502()
    {
        _gateway.Dispose();
        _gateway = new GatewayHarness(configure: o => o.Pools[PoolName].Retry.Enabled = false);
        var key = _gateway.KeyPlacedOn("b1");
        _backend = _ => (502, ForwarderError.Request);

        var context = await SendAsync(Request(key));

        Assert.Equal(502, context.Response.StatusCode);
        Assert.Equal(["b1"], _forwarded.Select(f => f.Backend));
    }

    [Theory]
    [InlineData(RetryOn.Unreachable, "GET", ForwarderError.RequestTimedOut, false)]
    [InlineData(RetryOn.Unreachable | RetryOn.Timeout, "GET", ForwarderError.RequestTimedOut, true)]
    [InlineData(RetryOn.Timeout, "GET", ForwarderError.Request, false)]
    [InlineData(RetryOn.Unreachable, "DELETE", ForwarderError.Request, false)]
    [InlineData(RetryOn.Unreachable, "GET", ForwarderError.ResponseBodyDestination, false)]
    public async Task InvokeAsync_RetrySettings_DecideWhichFailuresAndMethodsAreRetried(RetryOn on, string method, ForwarderError error, bool retried)
    {
        _gateway.Dispose();
        _gateway = new GatewayHarness(configure: o => o.Pools[PoolName].Retry.On = on);
        var key = _gateway.KeyPlacedOn("b1");
        _backend = attempt => attempt == 0 ? (502, error) : (200, null);
        var context = Request(key);
        context.Request.Method = method;

        await SendAsync(context);

        Assert.Equal(retried ? 2 : 1, _forwarded.Count);
    }

    [Fact]
    public async Task InvokeAsync_RetryMethodsListed_RetriesABodylessDeleteButNotAGet()
    {
        _gateway.Dispose();
        _gateway = new GatewayHarness(configure: o => o.Pools[PoolName].Retry.Methods = ["DELETE"]);
        _backend = attempt => attempt % 2 == 0 ? (502, ForwarderError.Request) : (200, null);
        var delete = Request(_gateway.KeyPlacedOn("b1"));
        delete.Request.Method = HttpMethods.Delete;

        await SendAsync(delete);
        Assert.Equal(2, _forwarded.Count);

        await SendAsync(Request(_gateway.KeyPlacedOn("b2")));
        Assert.Equal(3, _forwarded.Count);
    }

    [Fact]
    public async Task InvokeAsync_ServerTimingOn_SaysHowLongTheDecisionTookAndHowItWasMade()
    {
        _gateway.Dispose();
        _gateway = new GatewayHarness(configure: o => o.ServerTiming = true);
        var key = _gateway.KeyPlacedOn("b2");

        var context = await SendAsync(Request(key));

        Assert.Matches(@"^route;dur=\d+\.\d;desc=""new""$", context.Response.Headers["Server-Timing"].ToString());
    }

    [Fact]
    public async Task InvokeAsync_CookiePoolFirstVisit_IssuesACookieNamingThePlacedBackend()
    {
        _gateway.Dispose();
        _gateway = new GatewayHarness(sessionKey: "Cookie:dist");

        var context = await SendAsync(new DefaultHttpContext());

        var setCookie = context.Response.Headers.SetCookie.ToString();
        var protector = new SessionCookieProtector(new byte[32]);
        Assert.True(protector.TryUnprotect(PoolName, setCookie["dist=".Length..].Split(';')[0], out var cookie));
        Assert.Equal([cookie.BackendId!], _forwarded.Select(f => f.Backend));
        Assert.Equal(_gateway.Placed(cookie.Id), cookie.BackendId);
    }

    private static DefaultHttpContext Request(string sessionKey)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Get;
        context.Request.Headers["X-Session-Id"] = sessionKey;
        return context;
    }

    private async Task<DefaultHttpContext> SendAsync(DefaultHttpContext context, ILogger<SessionRoutingMiddleware>? logger = null)
    {
        context.RequestServices = _services;
        var route = new RouteModel(new RouteConfig { RouteId = "all", ClusterId = PoolName }, cluster: null, HttpTransformer.Default);
        var proxy = new ReverseProxyFeature
        {
            Route = route,
            Cluster = new ClusterModel(new ClusterConfig { ClusterId = PoolName }, new HttpMessageInvoker(new SocketsHttpHandler())),
            AllDestinations = Destinations,
            AvailableDestinations = Destinations,
        };
        context.Features.Set<IReverseProxyFeature>(proxy);
        _middleware ??= new SessionRoutingMiddleware(
            ctx =>
            {
                var destination = Assert.Single(ctx.GetReverseProxyFeature().AvailableDestinations);
                _forwarded.Add((destination.DestinationId, _gateway.Pool.View.Find(destination.DestinationId)!.Counter.InFlight));
                var attempt = ctx.Items["attempt"] is int tried ? tried : 0;
                ctx.Items["attempt"] = attempt + 1;
                var (status, error) = _backend(attempt);
                ctx.Response.StatusCode = status;
                ctx.Features.Set<IForwarderErrorFeature>(error is { } e ? new ForwarderErrorFeature(e) : null);
                return Task.CompletedTask;
            },
            _gateway.Registry,
            _gateway.Resolver,
            _gateway.Telemetry,
            _gateway.Time,
            Microsoft.Extensions.Options.Options.Create(_gateway.Options),
            logger ?? NullLogger<SessionRoutingMiddleware>.Instance);
        await _middleware.InvokeAsync(context);
        return context;
    }

    private sealed class StartedResponseFeature : HttpResponseFeature
    {
        public override bool HasStarted => true;
    }

    private sealed class ForwarderErrorFeature(ForwarderError error) : IForwarderErrorFeature
    {
        public ForwarderError Error { get; } = error;

        public Exception? Exception => null;
    }
}

using System.Globalization;
using Microsoft.Extensions.Options;

namespace Distributed.EchoBackend;

/// <summary>The <c>Echo</c> configuration section.</summary>
public sealed class EchoOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Echo";

    /// <summary>The backend id returned in every answer. <value>Default: <c>echo</c>.</value></summary>
    public string Id { get; set; } = "echo";

    /// <summary>
    /// Serves <c>POST /_echo/fail</c> and <c>POST /_echo/reset</c>, which make this backend fail on purpose (for tests).
    /// Off by default: a backend behind a gateway would otherwise let any client fail it for everyone, so only the test
    /// topology turns it on. <value>Default: false.</value>
    /// </summary>
    public bool FaultInjection { get; set; }
}

/// <summary>Counters and failure switches, shared by all requests.</summary>
public sealed class EchoState(IOptions<EchoOptions> options)
{
    private long _requests;
    private long _healthChecks;
    private int _inFlight;

    /// <summary>This backend's id.</summary>
    public string Id { get; } = options.Value.Id;

    /// <summary>When set, <c>/healthz</c> answers 503.</summary>
    public bool FailHealth { get; set; }

    /// <summary>When set, every echo request answers 500.</summary>
    public bool FailRequests { get; set; }

    public long Requests => Interlocked.Read(ref _requests);

    public long HealthChecks => Interlocked.Read(ref _healthChecks);

    public int InFlight => Volatile.Read(ref _inFlight);

    public void CountHealthCheck() => Interlocked.Increment(ref _healthChecks);

    public void Begin()
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _inFlight);
    }

    public void End() => Interlocked.Decrement(ref _inFlight);

    public void Reset()
    {
        FailHealth = false;
        FailRequests = false;
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _healthChecks, 0);
    }
}

/// <summary>The demo backend's endpoints.</summary>
public static class EchoEndpoints
{
    private const int MaxDelayMs = 60_000;

    /// <summary>
    /// Every answer, health and control endpoints included, names the backend in <c>X-Backend-Id</c> and the protocol
    /// the request arrived in (<c>HTTP/1.1</c>, <c>HTTP/2</c>) in <c>X-Received-Protocol</c>.
    /// </summary>
    public static void UseBackendIdHeader(this WebApplication app) => app.Use((context, next) =>
    {
        context.Response.Headers["X-Backend-Id"] = context.RequestServices.GetRequiredService<EchoState>().Id;
        context.Response.Headers["X-Received-Protocol"] = context.Request.Protocol;
        return next(context);
    });

    /// <summary>
    /// Health, <c>/_echo/stats</c>, the full-duplex <c>POST /_echo/stream</c>, and the fault switches <c>/_echo/fail</c> and <c>/_echo/reset</c> when
    /// <see cref="EchoOptions.FaultInjection"/> is on.
    /// </summary>
    public static void MapEchoControl(this WebApplication app)
    {
        app.MapGet("/healthz", (EchoState state) =>
        {
            state.CountHealthCheck();
            return state.FailHealth ? Results.Text("unhealthy", statusCode: 503) : Results.Text("healthy");
        });

        var control = app.MapGroup("/_echo");
        control.MapGet("/stats", (EchoState state) => Results.Ok(new
        {
            id = state.Id,
            requests = state.Requests,
            healthChecks = state.HealthChecks,
            inFlight = state.InFlight,
        }));

        // Streams the request body back as it arrives, each read flushed at once: a full-duplex exchange as gRPC
        // streaming does, so a client can send a message and read its echo before sending the next.
        control.MapPost("/stream", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/octet-stream";
            await context.Response.StartAsync(context.RequestAborted);
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        });
        if (!app.Services.GetRequiredService<IOptions<EchoOptions>>().Value.FaultInjection)
        {
            return;
        }

        control.MapPost("/fail", (EchoState state, bool? health, bool? requests) =>
        {
            state.FailHealth = health ?? state.FailHealth;
            state.FailRequests = requests ?? state.FailRequests;
            return Results.Ok(new { state.FailHealth, state.FailRequests });
        });
        control.MapPost("/reset", (EchoState state) =>
        {
            state.Reset();
            return Results.Ok();
        });
    }

    /// <summary>
    /// A WebSocket request on any path is accepted and every message is echoed back until the client closes; it counts
    /// in flight (<c>/_echo/stats</c>) while open. The upgrade answer names the backend in <c>X-Backend-Id</c> like
    /// every answer.
    /// </summary>
    public static void UseWebSocketEcho(this WebApplication app)
    {
        app.UseWebSockets();
        app.Use(async (context, next) =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                await next(context);
                return;
            }

            var state = context.RequestServices.GetRequiredService<EchoState>();
            state.Begin();
            try
            {
                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                var buffer = new byte[16 * 1024];
                while (true)
                {
                    var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
                    if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                    {
                        await socket.CloseOutputAsync(received.CloseStatus ?? System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, received.CloseStatusDescription, context.RequestAborted);
                        return;
                    }

                    await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
                }
            }
            catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or OperationCanceledException or IOException)
            {
                // The client or the gateway went away mid-conversation: nothing to answer.
            }
            finally
            {
                state.End();
            }
        });
    }

    /// <summary>
    /// Every other path and method: waits <c>X-Delay-Ms</c> / <c>?delayMs=</c> if asked, then answers with the backend
    /// id in the body and in <c>X-Backend-Id</c>; echoes the received <c>traceparent</c> in <c>X-Received-Traceparent</c>.
    /// </summary>
    public static void MapEcho(this WebApplication app) => app.MapFallback(async (HttpContext context, EchoState state) =>
    {
        state.Begin();
        try
        {
            if (context.Request.Headers.TryGetValue("traceparent", out var traceparent))
            {
                context.Response.Headers["X-Received-Traceparent"] = traceparent;
            }

            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            var delay = DelayOf(context.Request);
            if (delay is < 0 or > MaxDelayMs)
            {
                return Results.Text($"delay must be 0..{MaxDelayMs} ms\n", statusCode: 400);
            }

            if (delay > 0)
            {
                await Task.Delay(delay.Value, context.RequestAborted);
            }

            return state.FailRequests
                ? Results.Text($"{state.Id} failing on purpose\n", statusCode: 500)
                : Results.Text($"{state.Id}\n");
        }
        finally
        {
            state.End();
        }
    });

    private static int? DelayOf(HttpRequest request)
    {
        var raw = request.Headers["X-Delay-Ms"].ToString();
        if (raw.Length == 0)
        {
            raw = request.Query["delayMs"].ToString();
        }

        if (raw.Length == 0)
        {
            return 0;
        }

        return int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? ms : -1;
    }
}

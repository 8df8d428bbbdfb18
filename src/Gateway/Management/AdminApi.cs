using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.History;
using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Management;

/// <summary>Body of <c>POST /admin/pools/{pool}/backends</c> and <c>PUT .../backends/{id}</c>.</summary>
public sealed record BackendRequest(string? Id, string? Address, int? Weight, int? MaxInFlight);

/// <summary>Body of <c>POST .../backends/{id}/drain</c>; the timeout defaults to the pool's <c>DrainTimeout</c>.</summary>
public sealed record DrainRequest(TimeSpan? Timeout);

/// <summary>
/// A backend as the admin API shows it, with drain progress: <c>SafeToRemove</c> is <c>null</c> (unknown) while the
/// backend's session list may be incomplete (<c>SessionsKnown</c> false: the silo holding it restarted less than a
/// session TTL ago).
/// </summary>
public sealed record BackendDescription(
    string Id,
    string Address,
    int Weight,
    double EffectiveWeight,
    int MaxInFlight,
    string State,
    string Health,
    bool AcceptsNewSessions,
    bool KeepsSessions,
    int ClusterInFlight,
    int Sessions,
    DateTimeOffset? DrainDeadline,
    int? DrainRemainingSessions,
    bool? SafeToRemove,
    double RequestRate,
    bool SessionsKnown);

/// <summary>A pool as the admin API shows it.</summary>
public sealed record PoolDescription(string Name, string? SessionKey, bool Panic, int LiveGateways, IReadOnlyList<BackendDescription> Backends, IReadOnlyList<GatewayStatus> Gateways);

/// <summary>One state transition of a pool, as the admin API shows it (see <see cref="PoolEventRecord"/>).</summary>
public sealed record PoolEventDescription(
    long Id,
    DateTimeOffset At,
    string Kind,
    string? Backend,
    string By,
    string? Detail,
    DateTimeOffset? Until,
    int? Ejections,
    int? Healthy,
    int? Backends,
    int? SessionsPinned);

/// <summary>A pool's recent state transitions, oldest first, kept by its pool grain since <c>KeptSince</c>.</summary>
public sealed record PoolEventsDescription(string Pool, DateTimeOffset KeptSince, int Capacity, IReadOnlyList<PoolEventDescription> Events);

/// <summary>
/// The admin API on the management listener: pools and backends with their cluster-wide state, add / update / remove /
/// drain backends, look up and unpin sessions, list a backend's sessions, and a pool's history and events. Every call needs
/// <c>Authorization: Bearer {Balancer:Admin:ApiKey}</c>. Changes go to the pool grain, so they persist and reach every
/// gateway within one snapshot interval.
/// </summary>
internal static class AdminApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowTrailingCommas = false };

    public static WebApplication MapAdminApi(this WebApplication app)
    {
        var management = app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value;
        var admin = app.MapGroup("/admin").RequireManagementListener().AddEndpointFilter(new ApiKeyFilter(management.ApiKey));

        admin.MapGet("/pools", async (PoolRegistry pools, IGrainFactory grains) =>
            Results.Ok(await Task.WhenAll(pools.All.Select(p => DescribeAsync(p, grains)))));

        admin.MapGet("/pools/{pool}", async (string pool, PoolRegistry pools, IGrainFactory grains) =>
            pools.Find(pool) is { } runtime ? Results.Ok(await DescribeAsync(runtime, grains)) : UnknownPool(pool));

        admin.MapGet("/pools/{pool}/backends", async (string pool, PoolRegistry pools, IGrainFactory grains) =>
            pools.Find(pool) is { } runtime ? Results.Ok((await DescribeAsync(runtime, grains)).Backends) : UnknownPool(pool));

        admin.MapGet("/pools/{pool}/history", (string pool, string? since, PoolRegistry pools, HistoryStore history) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            if (!history.Enabled || history.Find(pool) is not { } poolHistory)
            {
                return Problem(StatusCodes.Status404NotFound, "No history", $"This gateway keeps no history ({BalancerOptions.SectionName}:History:Enabled is false).");
            }

            return Since(since, "a time in Unix milliseconds, as in the history's 'times'", out var after) is { } invalid
                ? invalid
                : Results.Ok(poolHistory.Describe(after));
        });

        admin.MapGet("/pools/{pool}/events", async (string pool, string? since, PoolRegistry pools, IGrainFactory grains) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            if (Since(since, "an event id, as in the events' 'id'", out var after) is { } invalid)
            {
                return invalid;
            }

            var page = await grains.GetGrain<IPoolGrain>(pool).GetEventsAsync(after);
            return Results.Ok(new PoolEventsDescription(pool, page.KeptSince, page.Capacity, [.. page.Events.Select(e => new PoolEventDescription(
                e.Id, e.At, e.Kind.ToString(), e.Backend, e.By, e.Detail, e.Until, e.Ejections, e.Healthy, e.Backends, e.SessionsPinned))]));
        });

        admin.MapPost("/pools/{pool}/backends", async (string pool, HttpRequest request, PoolRegistry pools, IGrainFactory grains) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            var (body, error) = await ReadAsync<BackendRequest>(request);
            if (error is not null)
            {
                return error;
            }

            // The pool grain validates (naming each field at fault), checks for a conflict, stores and applies, in one call.
            var result = await grains.GetGrain<IPoolGrain>(pool).AddBackendAsync(new BackendSpec(body!.Id!, body.Address!, body.Weight ?? 1, body.MaxInFlight ?? 0), Actor(request.HttpContext, pools));
            return result.Succeeded
                ? Results.Created($"/admin/pools/{pool}/backends/{body.Id}", await FindBackendAsync(pools.Find(pool)!, grains, body.Id!))
                : Refused(pool, body.Id!, result);
        });

        admin.MapPut("/pools/{pool}/backends/{id}", async (string pool, string id, HttpRequest request, PoolRegistry pools, IGrainFactory grains) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            var (body, error) = await ReadAsync<BackendRequest>(request);
            if (error is not null)
            {
                return error;
            }

            if (body!.Id is not null && body.Id != id)
            {
                return Problem(StatusCodes.Status400BadRequest, "Invalid backend", $"The body's id '{body.Id}' differs from the URL's '{id}'; ids cannot change.");
            }

            var result = await grains.GetGrain<IPoolGrain>(pool).UpdateBackendAsync(id, new BackendPatch(body.Address, body.Weight, body.MaxInFlight), Actor(request.HttpContext, pools));
            return result.Succeeded ? Results.Ok(await FindBackendAsync(pools.Find(pool)!, grains, id)) : Refused(pool, id, result);
        });

        admin.MapDelete("/pools/{pool}/backends/{id}", async (string pool, string id, HttpContext context, PoolRegistry pools, IGrainFactory grains) =>
            pools.Find(pool) is null ? UnknownPool(pool)
            : await grains.GetGrain<IPoolGrain>(pool).RemoveBackendAsync(id, Actor(context, pools)) is { Succeeded: false } refused ? Refused(pool, id, refused)
            : Results.NoContent());

        admin.MapPost("/pools/{pool}/backends/{id}/drain", async (string pool, string id, HttpRequest request, PoolRegistry pools, IGrainFactory grains) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            DrainRequest? body = null;
            if (request.ContentLength is > 0 || request.Headers.ContainsKey("Transfer-Encoding"))
            {
                var (read, error) = await ReadAsync<DrainRequest>(request);
                if (error is not null)
                {
                    return error;
                }

                body = read;
            }

            var result = await grains.GetGrain<IPoolGrain>(pool).DrainBackendAsync(id, body?.Timeout, Actor(request.HttpContext, pools));
            return result.Succeeded ? Results.Ok(await FindBackendAsync(pools.Find(pool)!, grains, id)) : Refused(pool, id, result);
        });

        admin.MapDelete("/pools/{pool}/backends/{id}/drain", async (string pool, string id, HttpContext context, PoolRegistry pools, IGrainFactory grains) =>
            pools.Find(pool) is null ? UnknownPool(pool)
            : await grains.GetGrain<IPoolGrain>(pool).CancelDrainAsync(id, Actor(context, pools)) is { Succeeded: false } refused ? Refused(pool, id, refused)
            : Results.Ok(await FindBackendAsync(pools.Find(pool)!, grains, id)));

        admin.MapGet("/pools/{pool}/backends/{id}/sessions", async (string pool, string id, string? after, int? limit, PoolRegistry pools, IGrainFactory grains) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            if (limit is < 1 or > 1000)
            {
                return Problem(StatusCodes.Status400BadRequest, "Invalid page", $"'limit' must be between 1 and 1000 (was {limit}).");
            }

            var snapshot = await grains.GetGrain<IPoolGrain>(pool).GetSnapshotAsync();
            return snapshot.Backends.Any(b => b.Id == id)
                ? Results.Ok(await GrainBackendSessionCounter.Index(grains, pool, id).ListAsync(after, limit ?? 100))
                : UnknownBackend(pool, id);
        });

        admin.MapGet("/pools/{pool}/sessions/{**key}", async (string pool, string key, PoolRegistry pools, IGrainFactory grains, IOptions<BalancerOptions> options) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            if (InvalidKey(key, options.Value) is { } invalid)
            {
                return invalid;
            }

            return await grains.GetGrain<ISessionGrain>(SessionGrainKey.For(pool, key)).GetAsync() is { } pin
                ? Results.Ok(new { session = key, backend = pin.BackendId, pin.Epoch, pin.ExpiresAt })
                : Problem(StatusCodes.Status404NotFound, "No such session", $"Session '{key}' of pool '{pool}' is not pinned.");
        });

        admin.MapDelete("/pools/{pool}/sessions/{**key}", async (string pool, string key, PoolRegistry pools, IGrainFactory grains, IOptions<BalancerOptions> options) =>
        {
            if (pools.Find(pool) is null)
            {
                return UnknownPool(pool);
            }

            if (InvalidKey(key, options.Value) is { } invalid)
            {
                return invalid;
            }

            await grains.GetGrain<ISessionGrain>(SessionGrainKey.For(pool, key)).UnpinAsync();
            await grains.GetGrain<IPoolGrain>(pool).NotifyUnpinnedAsync(key);
            pools.Find(pool)!.Pins.Remove(key);
            return Results.NoContent();
        });

        return app;
    }

    private static async Task<PoolDescription> DescribeAsync(PoolRuntime pool, IGrainFactory grains)
    {
        var snapshot = await grains.GetGrain<IPoolGrain>(pool.Name).GetSnapshotAsync();
        var backends = await Task.WhenAll(snapshot.Backends.Select(async b =>
        {
            var sessions = await GrainBackendSessionCounter.Index(grains, pool.Name, b.Id).ListAsync(null, 1);
            var progress = DrainProgress.Of(b, sessions, pool.Options.SessionTtl, snapshot.GeneratedAt);
            return new BackendDescription(
                b.Id,
                b.Address,
                b.Weight,
                Math.Round(b.EffectiveWeight, 3),
                b.MaxInFlight,
                b.State.ToString(),
                b.Health.ToString(),
                b.AcceptsNewSessions,
                b.KeepsSessions,
                b.ClusterInFlight,
                sessions.Total,
                b.DrainDeadline,
                progress.RemainingSessions,
                progress.SafeToRemove,
                Math.Round(b.RequestRate, 2),
                progress.SessionsKnown);
        }));
        return new PoolDescription(pool.Name, pool.Options.SessionKey, snapshot.Panic, snapshot.LiveGateways, backends, snapshot.Gateways.IsDefault ? [] : snapshot.Gateways);
    }

    private static async Task<BackendDescription?> FindBackendAsync(PoolRuntime pool, IGrainFactory grains, string id) =>
        (await DescribeAsync(pool, grains)).Backends.FirstOrDefault(b => b.Id == id);

    private static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (request.HasJsonContentType() is false)
        {
            return (null, Problem(StatusCodes.Status415UnsupportedMediaType, "JSON expected", "Send the body as application/json."));
        }

        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(request.Body, Json, request.HttpContext.RequestAborted);
            return body is null ? (null, Problem(StatusCodes.Status400BadRequest, "Invalid body", "The body is empty or null.")) : (body, null);
        }
        catch (JsonException ex)
        {
            return (null, Problem(StatusCodes.Status400BadRequest, "Invalid body", $"The body is not valid JSON for this call: {ex.Message}"));
        }
    }

    // A 'since' cursor: none, or a non-negative integer (what it is, for the error); a 400 problem otherwise.
    private static IResult? Since(string? since, string meaning, out long? after)
    {
        after = null;
        if (since is null)
        {
            return null;
        }

        if (!long.TryParse(since, NumberStyles.None, CultureInfo.InvariantCulture, out var cursor))
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid since", $"'since' is {meaning} (was '{since}').");
        }

        after = cursor;
        return null;
    }

    private static IResult? InvalidKey(string key, BalancerOptions options) =>
        key.Length <= options.MaxSessionKeyLength && key.All(c => c is >= '!' and <= '~')
            ? null
            : Problem(StatusCodes.Status400BadRequest, "Invalid session key", $"Session keys are 1–{options.MaxSessionKeyLength} visible ASCII characters.");

    // Who made an admin change, for the pool's log: the caller's address and the gateway it came through (every admin
    // caller holds the same key, so there is no user name to give).
    private static string Actor(HttpContext context, PoolRegistry pools) => $"{context.Connection.RemoteIpAddress} via {pools.GatewayId}";

    // A change the pool grain refused: nothing changed.
    private static IResult Refused(string pool, string id, AdminResult result) => result.Outcome switch
    {
        AdminOutcome.NotFound => UnknownBackend(pool, id),
        AdminOutcome.Conflict => Problem(StatusCodes.Status409Conflict, "Conflict", $"Pool '{pool}': {result.Detail}"),
        AdminOutcome.Invalid => Problem(StatusCodes.Status400BadRequest, "Invalid request", result.Detail ?? "Invalid request."),
        _ => Problem(StatusCodes.Status503ServiceUnavailable, "Not stored", $"Pool '{pool}': {result.Detail}"),
    };

    private static IResult UnknownPool(string pool) => Problem(StatusCodes.Status404NotFound, "No such pool", $"This gateway has no pool '{pool}'.");

    private static IResult UnknownBackend(string pool, string id) => Problem(StatusCodes.Status404NotFound, "No such backend", $"Pool '{pool}' has no backend '{id}'.");

    private static IResult Problem(int status, string title, string detail) => Results.Problem(statusCode: status, title: title, detail: detail);

    /// <summary>Bearer API key check; a gateway without a configured key refuses every admin call.</summary>
    private sealed class ApiKeyFilter(string? apiKey) : IEndpointFilter
    {
        private readonly byte[]? _expected = apiKey is { Length: > 0 } ? Encoding.UTF8.GetBytes(apiKey) : null;

        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var http = context.HttpContext;
            if (_expected is null)
            {
                return Problem(StatusCodes.Status401Unauthorized, "Admin API disabled", "Set Balancer:Admin:ApiKey to use the admin API.");
            }

            var header = http.Request.Headers.Authorization.ToString();
            var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetBytes(header[7..].Trim()) : [];
            if (!CryptographicOperations.FixedTimeEquals(presented, _expected))
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return Problem(StatusCodes.Status401Unauthorized, "Unauthorized", "Send Authorization: Bearer <Balancer:Admin:ApiKey>.");
            }

            return await next(context);
        }
    }
}

using System.Globalization;
using System.Text.Json;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.History;
using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Management;

/// <summary>
/// The admin API on the management listener: pools and backends with their cluster-wide state, add / update / remove /
/// drain backends, look up and unpin sessions, list a backend's sessions, and a pool's history and events. Every call needs
/// <c>Authorization: Bearer {Balancer:Admin:ApiKey}</c>. Changes go to the pool grain, so they persist and reach every
/// gateway within one snapshot interval; the gateway that made one routes by it before it answers.
/// </summary>
internal static class AdminApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowTrailingCommas = false };

    public static WebApplication MapAdminApi(this WebApplication app)
    {
        var management = app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value;
        var admin = app.MapGroup("/admin").RequireManagementListener().AddEndpointFilter(new AdminApiKeyFilter(management.ApiKey))
            .AddEndpointFilter<AdminClusterFailureFilter>(); // a grain call the cluster could not serve: 503, not 500

        admin.MapGet("/pools", async (PoolRegistry pools, IGrainFactory grains) =>
            Results.Ok(await Task.WhenAll(pools.All.Select(p => DescribeAsync(p, grains)))));

        // Every call below names a pool: AdminPoolFilter answers 404 for one this gateway does not have.
        var onePool = admin.MapGroup("/pools/{pool}").AddEndpointFilter<AdminPoolFilter>();

        onePool.MapGet("", async (HttpContext context, IGrainFactory grains) =>
            Results.Ok(await DescribeAsync(AdminPoolFilter.Pool(context), grains)));

        onePool.MapGet("/backends", async (HttpContext context, IGrainFactory grains) =>
            Results.Ok((await DescribeAsync(AdminPoolFilter.Pool(context), grains)).Backends));

        onePool.MapGet("/history", (string pool, string? since, HistoryStore history) =>
        {
            if (!history.Enabled || history.Find(pool) is not { } poolHistory)
            {
                return Problem(StatusCodes.Status404NotFound, "No history", $"This gateway keeps no history ({BalancerOptions.SectionName}:History:Enabled is false).");
            }

            return Since(since, "a time in Unix milliseconds, as in the history's 'times'", out var after) is { } invalid
                ? invalid
                : Results.Ok(poolHistory.Describe(after));
        });

        onePool.MapGet("/events", async (string pool, string? since, IGrainFactory grains) =>
        {
            if (Since(since, "an event id, as in the events' 'id'", out var after) is { } invalid)
            {
                return invalid;
            }

            var page = await grains.GetGrain<IPoolGrain>(pool).GetEventsAsync(after);
            return Results.Ok(new PoolEventsDescription(pool, page.KeptSince, page.Capacity, [.. page.Events.Select(e => new PoolEventDescription(
                e.Id, e.At, e.Kind.ToString(), e.Backend, e.By, e.Detail, e.Until, e.Ejections, e.Healthy, e.Backends, e.SessionsPinned))]));
        });

        onePool.MapPost("/backends", async (string pool, HttpRequest request, PoolRegistry pools, IGrainFactory grains, TimeProvider time) =>
        {
            var (body, error) = await ReadAsync<BackendRequest>(request);
            if (error is not null)
            {
                return error;
            }

            // The pool grain validates (naming each field at fault), checks for a conflict, stores and applies, in one call.
            var result = await grains.GetGrain<IPoolGrain>(pool).AddBackendAsync(new BackendSpec(body!.Id!, body.Address!, body.Weight ?? 1, body.MaxInFlight ?? 0), Actor(request.HttpContext, pools));
            return result.Succeeded
                ? Results.Created($"/admin/pools/{pool}/backends/{body.Id}", await AdoptAndFindAsync(AdminPoolFilter.Pool(request.HttpContext), grains, time, body.Id!))
                : Refused(pool, body.Id!, result);
        });

        onePool.MapPut("/backends/{id}", async (string pool, string id, HttpRequest request, PoolRegistry pools, IGrainFactory grains, TimeProvider time) =>
        {
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
            return result.Succeeded ? Results.Ok(await AdoptAndFindAsync(AdminPoolFilter.Pool(request.HttpContext), grains, time, id)) : Refused(pool, id, result);
        });

        onePool.MapDelete("/backends/{id}", async (string pool, string id, HttpContext context, PoolRegistry pools, IGrainFactory grains, TimeProvider time) =>
        {
            if (await grains.GetGrain<IPoolGrain>(pool).RemoveBackendAsync(id, Actor(context, pools)) is { Succeeded: false } refused)
            {
                return Refused(pool, id, refused);
            }

            await AdoptAsync(AdminPoolFilter.Pool(context), grains, time);
            return Results.NoContent();
        });

        onePool.MapPost("/backends/{id}/drain", async (string pool, string id, HttpRequest request, PoolRegistry pools, IGrainFactory grains, TimeProvider time) =>
        {
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
            return result.Succeeded ? Results.Ok(await AdoptAndFindAsync(AdminPoolFilter.Pool(request.HttpContext), grains, time, id)) : Refused(pool, id, result);
        });

        onePool.MapDelete("/backends/{id}/drain", async (string pool, string id, HttpContext context, PoolRegistry pools, IGrainFactory grains, TimeProvider time) =>
            await grains.GetGrain<IPoolGrain>(pool).CancelDrainAsync(id, Actor(context, pools)) is { Succeeded: false } refused ? Refused(pool, id, refused)
            : Results.Ok(await AdoptAndFindAsync(AdminPoolFilter.Pool(context), grains, time, id)));

        onePool.MapGet("/backends/{id}/sessions", async (string pool, string id, string? after, int? limit, IGrainFactory grains) =>
        {
            if (limit is < 1 or > 1000)
            {
                return Problem(StatusCodes.Status400BadRequest, "Invalid page", $"'limit' must be between 1 and 1000 (was {limit}).");
            }

            var snapshot = await grains.GetGrain<IPoolGrain>(pool).GetSnapshotAsync();
            return snapshot.Backends.Any(b => b.Id == id)
                ? Results.Ok(await GrainBackendSessionCounter.Index(grains, pool, id).ListAsync(after, limit ?? 100))
                : UnknownBackend(pool, id);
        });

        onePool.MapGet("/sessions/{**key}", async (string pool, string key, IGrainFactory grains, IOptions<BalancerOptions> options) =>
        {
            if (InvalidKey(key, options.Value) is { } invalid)
            {
                return invalid;
            }

            return await grains.GetGrain<ISessionGrain>(GrainKeys.Session(pool, key)).GetAsync() is { } pin
                ? Results.Ok(new { session = key, backend = pin.BackendId, pin.Epoch, pin.ExpiresAt })
                : Problem(StatusCodes.Status404NotFound, "No such session", $"Session '{key}' of pool '{pool}' is not pinned.");
        });

        onePool.MapDelete("/sessions/{**key}", async (string pool, string key, HttpContext context, IGrainFactory grains, IOptions<BalancerOptions> options) =>
        {
            if (InvalidKey(key, options.Value) is { } invalid)
            {
                return invalid;
            }

            // The session grain tells its pool, whose snapshots make every gateway drop the pin; this one drops it now.
            // Safe to repeat when it fails (the grain then tells the pool again).
            await grains.GetGrain<ISessionGrain>(GrainKeys.Session(pool, key)).UnpinAsync();
            AdminPoolFilter.Pool(context).Pins.Remove(key);
            return Results.NoContent();
        });

        return app;
    }

    private static async Task<PoolDescription> DescribeAsync(PoolRuntime pool, IGrainFactory grains) =>
        await DescribeAsync(pool, grains, await grains.GetGrain<IPoolGrain>(pool.Name).GetSnapshotAsync());

    private static async Task<PoolDescription> DescribeAsync(PoolRuntime pool, IGrainFactory grains, PoolSnapshot snapshot)
    {
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

    // After a change: the gateway that made it routes by it before it answers (the others adopt it from their next
    // snapshot, within one report interval), so a caller who drains a backend and then sends a new session through the
    // same gateway never sees that session placed on the drained backend.
    private static async Task<PoolSnapshot> AdoptAsync(PoolRuntime pool, IGrainFactory grains, TimeProvider time)
    {
        var snapshot = await grains.GetGrain<IPoolGrain>(pool.Name).GetSnapshotAsync();
        pool.Apply(snapshot, [], time.GetUtcNow());
        return snapshot;
    }

    private static async Task<BackendDescription?> AdoptAndFindAsync(PoolRuntime pool, IGrainFactory grains, TimeProvider time, string id) =>
        (await DescribeAsync(pool, grains, await AdoptAsync(pool, grains, time))).Backends.FirstOrDefault(b => b.Id == id);

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
        SessionKeyRules.Check(key, options.MaxSessionKeyLength) is { } problem
            ? Problem(StatusCodes.Status400BadRequest, "Invalid session key", $"The session key {problem}; session keys are 1–{options.MaxSessionKeyLength} visible ASCII characters.")
            : null;

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

    /// <summary>The answer to a call naming a pool this gateway does not have.</summary>
    internal static IResult UnknownPool(string pool) => Problem(StatusCodes.Status404NotFound, "No such pool", $"This gateway has no pool '{pool}'.");

    private static IResult UnknownBackend(string pool, string id) => Problem(StatusCodes.Status404NotFound, "No such backend", $"Pool '{pool}' has no backend '{id}'.");

    /// <summary>An RFC 7807 problem, as every admin error is answered.</summary>
    internal static IResult Problem(int status, string title, string detail) => Results.Problem(statusCode: status, title: title, detail: detail);
}

using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Distributed.Gateway.Telemetry;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pinning;

/// <summary>How a request's backend was decided.</summary>
public enum RoutingOutcome
{
    /// <summary>No backend is usable.</summary>
    NoBackend = 0,

    /// <summary>A request without session key: least-loaded.</summary>
    Keyless,

    /// <summary>The session's existing pin (from cache or grain).</summary>
    Pinned,

    /// <summary>A new session, pinned to the least-loaded backend.</summary>
    New,

    /// <summary>The session's pin was unusable and moved.</summary>
    Repinned,

    /// <summary>The cluster did not answer in time: a local least-loaded choice, reconciled with the grain later.</summary>
    Provisional,
}

/// <summary>The routing decision for one request.</summary>
internal readonly record struct RoutingDecision(BackendEntry? Backend, RoutingOutcome Outcome);

/// <summary>
/// Resolves a session's backend. A cached, usable pin answers at once (and is re-confirmed with its grain in the
/// background when due). Otherwise the session grain decides: get-or-pin with this gateway's least-loaded proposal,
/// and a compare-and-set re-pin when the pinned backend is no longer usable. If the grain does not answer within
/// <see cref="BalancerOptions.ClusterCallTimeout"/>, the request is served from a provisional local choice (fail-static).
/// </summary>
internal sealed partial class SessionPinResolver(
    IGrainFactory grains,
    Random random,
    TimeProvider time,
    ClusterConnectivity connectivity,
    GatewayTelemetry telemetry,
    IOptions<BalancerOptions> options,
    ILogger<SessionPinResolver> logger)
{
    // Re-pin attempts before giving up; each lost attempt means another gateway moved the pin in between.
    private const int MaxRepinAttempts = 3;
    private readonly TimeSpan _callTimeout = options.Value.ClusterCallTimeout;

    /// <summary>The randomness behind least-loaded choices (injected, so tests can seed it).</summary>
    public Random Random => random;

    public ValueTask<RoutingDecision> ResolveAsync(PoolRuntime pool, string? sessionKey, bool isNewKey)
    {
        var view = pool.View;
        if (sessionKey is null)
        {
            var backend = view.ChooseLeastLoaded(random);
            return ValueTask.FromResult(new RoutingDecision(backend, backend is null ? RoutingOutcome.NoBackend : RoutingOutcome.Keyless));
        }

        var now = time.GetUtcNow();
        if (!isNewKey && pool.Pins.Get(sessionKey) is { } cached && IsUsable(pool, view, cached, now) is { } hit)
        {
            pool.Pins.CountHit();
            if (cached.IsProvisional || pool.Pins.IsDue(cached, now))
            {
                ConfirmInBackground(pool, sessionKey, cached);
            }

            return ValueTask.FromResult(new RoutingDecision(hit, RoutingOutcome.Pinned));
        }

        pool.Pins.CountMiss();
        return ResolveWithGrainAsync(pool, view, sessionKey);
    }

    private BackendEntry? IsUsable(PoolRuntime pool, PoolView view, CachedPin cached, DateTimeOffset now) =>
        view.Find(cached.BackendId) is { } backend
        && PinValidity.IsUsable(cached, backend.Backend, now, pool.Options.SessionTtl, connectivity.IsDegraded)
            ? backend
            : null;

    private async ValueTask<RoutingDecision> ResolveWithGrainAsync(PoolRuntime pool, PoolView view, string sessionKey)
    {
        var proposal = view.ChooseLeastLoaded(random);
        if (proposal is null)
        {
            return new RoutingDecision(null, RoutingOutcome.NoBackend);
        }

        try
        {
            try
            {
                return await PinWithGrainAsync(pool, view, sessionKey, proposal);
            }
            catch (Exception ex) when (ex is not ArgumentException && !connectivity.IsDegraded)
            {
                // The cluster answers reports, so this call was merely slow (a grain activating after a membership
                // change, a cold process). A guess could move an existing session: ask once more before guessing.
                LogSlowCall(logger, pool.Name, ex);
                return await PinWithGrainAsync(pool, view, sessionKey, proposal);
            }
        }
        catch (Exception ex) when (ex is not ArgumentException)
        {
            // Fail-static: serve the request now. The provisional backend is a rendezvous hash of the key, so every
            // gateway cut off from the cluster picks the same one; it is reconciled with the grain on a later request.
            connectivity.CallFailed();
            var fallback = view.ChooseByHash(sessionKey) ?? proposal;
            LogProvisional(logger, pool.Name, fallback.Id, ex);
            pool.Pins.Set(sessionKey, new CachedPin(fallback.Id, Epoch: -1, fallback.Backend.PinGeneration, DateTimeOffset.MinValue));
            return new RoutingDecision(fallback, RoutingOutcome.Provisional);
        }
    }

    private async Task<RoutingDecision> PinWithGrainAsync(PoolRuntime pool, PoolView view, string sessionKey, BackendEntry proposal)
    {
        using var timeout = new CancellationTokenSource(_callTimeout, time);
        var grain = grains.GetGrain<ISessionGrain>(SessionGrainKey.For(pool.Name, sessionKey));
        var ttl = pool.Options.SessionTtl;
        telemetry.GrainCall(pool.Name, "get_or_pin");
        var result = await grain.GetOrPinAsync(proposal.Id, ttl, timeout.Token).WaitAsync(timeout.Token);
        var repinned = false;
        for (var attempt = 0; ; attempt++)
        {
            if (view.Find(result.Pin.BackendId) is { KeepsSessions: true } pinned)
            {
                pool.Pins.Set(sessionKey, new CachedPin(pinned.Id, result.Pin.Epoch, pinned.Backend.PinGeneration, time.GetUtcNow()));
                if (result.Outcome is PinOutcome.Created or PinOutcome.Repinned && pinned == proposal)
                {
                    pinned.Counter.Placed(); // this gateway's choice: count it until the next snapshot
                }

                var outcome = repinned ? RoutingOutcome.Repinned : result.Outcome == PinOutcome.Created ? RoutingOutcome.New : RoutingOutcome.Pinned;
                return new RoutingDecision(pinned, outcome);
            }

            if (attempt == MaxRepinAttempts)
            {
                // Other gateways keep moving the pin to a backend this gateway's snapshot does not consider usable
                // (it is stale). Follow the cluster's pin if the backend is known at all, never a pin of our own.
                return view.Find(result.Pin.BackendId) is { } known
                    ? new RoutingDecision(known, RoutingOutcome.Pinned)
                    : new RoutingDecision(null, RoutingOutcome.NoBackend);
            }

            telemetry.GrainCall(pool.Name, "repin");
            result = await grain.RepinAsync(result.Pin.Epoch, proposal.Id, ttl, timeout.Token).WaitAsync(timeout.Token);
            repinned = true;
        }
    }

    // Confirms a cached pin with its grain without holding up the request: extends the session's expiry cluster-wide,
    // turns a provisional pin into a real one (or adopts the pin another gateway made meanwhile), and picks up a pin
    // that moved elsewhere. At most one confirmation per key runs at a time.
    private void ConfirmInBackground(PoolRuntime pool, string sessionKey, CachedPin cached)
    {
        if (pool.Pins.TryBeginConfirm(sessionKey))
        {
            _ = ConfirmAsync(pool, sessionKey, cached);
        }
    }

    private async Task ConfirmAsync(PoolRuntime pool, string sessionKey, CachedPin cached)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_callTimeout, time);
            var grain = grains.GetGrain<ISessionGrain>(SessionGrainKey.For(pool.Name, sessionKey));
            telemetry.GrainCall(pool.Name, "confirm");
            var result = await grain.GetOrPinAsync(cached.BackendId, pool.Options.SessionTtl, timeout.Token).WaitAsync(timeout.Token);
            if (pool.View.Find(result.Pin.BackendId) is { KeepsSessions: true } pinned)
            {
                pool.Pins.Set(sessionKey, new CachedPin(pinned.Id, result.Pin.Epoch, pinned.Backend.PinGeneration, time.GetUtcNow()));
            }
            else
            {
                // The cluster's pin points at a backend this gateway cannot use: resolve afresh on the next request.
                pool.Pins.Remove(sessionKey);
            }
        }
        catch (Exception ex)
        {
            connectivity.CallFailed();
            LogConfirmFailed(logger, pool.Name, ex);
        }
        finally
        {
            pool.Pins.EndConfirm(sessionKey);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Pool {Pool}: session grain did not answer; serving a provisional pin to {Backend}.")]
    private static partial void LogProvisional(ILogger logger, string pool, string backend, Exception exception);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Pool {Pool}: session grain call failed or timed out while the cluster is reachable; retrying once.")]
    private static partial void LogSlowCall(ILogger logger, string pool, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "Pool {Pool}: background confirmation of a cached pin failed; it stays in use.")]
    private static partial void LogConfirmFailed(ILogger logger, string pool, Exception exception);
}

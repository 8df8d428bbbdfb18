using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Caching.Memory;

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
}

/// <summary>The routing decision for one request.</summary>
internal readonly record struct RoutingDecision(BackendEntry? Backend, RoutingOutcome Outcome);

/// <summary>
/// Resolves a session's backend: the gateway's pin cache first, then the session grain (get-or-pin, and a
/// compare-and-set re-pin when the pinned backend is no longer usable here). Grain calls happen for new sessions,
/// invalid pins and once per cache entry lifetime per session only.
/// </summary>
internal sealed class SessionPinResolver(IGrainFactory grains, Random random)
{
    // Re-pin attempts before giving up; each lost attempt means another gateway moved the pin in between.
    private const int MaxRepinAttempts = 3;

    public ValueTask<RoutingDecision> ResolveAsync(PoolRuntime pool, string? sessionKey, bool isNewKey)
    {
        var view = pool.View;
        if (sessionKey is null)
        {
            var backend = view.ChooseLeastLoaded(random);
            return ValueTask.FromResult(new RoutingDecision(backend, backend is null ? RoutingOutcome.NoBackend : RoutingOutcome.Keyless));
        }

        if (!isNewKey && pool.PinCache.TryGetValue(sessionKey, out CachedPin? cached) && view.Find(cached!.BackendId) is { Usable: true } hit)
        {
            return ValueTask.FromResult(new RoutingDecision(hit, RoutingOutcome.Pinned));
        }

        return ResolveWithGrainAsync(pool, view, sessionKey);
    }

    private async ValueTask<RoutingDecision> ResolveWithGrainAsync(PoolRuntime pool, PoolView view, string sessionKey)
    {
        var proposal = view.ChooseLeastLoaded(random);
        if (proposal is null)
        {
            return new RoutingDecision(null, RoutingOutcome.NoBackend);
        }

        var grain = grains.GetGrain<ISessionGrain>(SessionGrainKey.For(pool.Name, sessionKey));
        var ttl = pool.Options.SessionTtl;
        var result = await grain.GetOrPinAsync(proposal.Id, ttl);
        var repinned = false;
        for (var attempt = 0; ; attempt++)
        {
            if (view.Find(result.Pin.BackendId) is { Usable: true } pinned)
            {
                pool.PinCache.Set(sessionKey, new CachedPin(pinned.Id, result.Pin.Epoch), new MemoryCacheEntryOptions
                {
                    Size = 1,
                    AbsoluteExpirationRelativeToNow = pool.PinCacheEntryLifetime,
                });
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

            result = await grain.RepinAsync(result.Pin.Epoch, proposal.Id, ttl);
            repinned = true;
        }
    }
}

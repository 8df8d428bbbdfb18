using System.Buffers;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.LoadBalancing;
using Distributed.Gateway.SessionKeys;

namespace Distributed.Gateway.Pools;

/// <summary>A pool's balancing policy: one instance per pool and gateway (round robin keeps its rotation here).</summary>
internal abstract class BalancingPolicy
{
    /// <summary>The policy <paramref name="options"/> configures (validated at start-up).</summary>
    public static BalancingPolicy Create(PoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Policy switch
        {
            BalancingPolicyKind.LeastLoaded => new LeastLoadedPolicy(options.BalanceFactor),
            BalancingPolicyKind.RoundRobin or BalancingPolicyKind.WeightedRoundRobin => new RoundRobinPolicy(),
            BalancingPolicyKind.Random => new RandomPolicy(),
            BalancingPolicyKind.Hash => new HashPolicy(HashKeySpec.Parse(options.HashKey), options.BalanceFactor),
            BalancingPolicyKind.FirstAvailable => new FirstAvailablePolicy(),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Policy, "Unknown balancing policy."),
        };
    }

    /// <summary>What the policy hashes for <paramref name="context"/>; <c>null</c> for policies that hash nothing.</summary>
    public virtual string? RequestKey(HttpContext context) => null;

    /// <summary>
    /// The backend of a new session (<paramref name="sessionKey"/> set) or of a keyless request, never
    /// <paramref name="excludedId"/>; <c>null</c> when no backend takes new work.
    /// </summary>
    public abstract BackendEntry? Choose(PoolView view, string? sessionKey, string? requestKey, string? excludedId, Random random);

    /// <summary>
    /// Where a gateway that holds no pin for <paramref name="sessionKey"/> guesses it is, the same on every gateway:
    /// by default the session key's first choice among the backends that take new sessions, load ignored, which is
    /// where <see cref="BalancingPolicyKind.LeastLoaded"/> places nearly every session. Policies whose choice no other
    /// gateway can recompute (round robin, random) keep that default and guess right only by chance.
    /// </summary>
    public virtual BackendEntry? Guess(PoolView view, string sessionKey, string? requestKey) => view.Guess(sessionKey);

    /// <summary>The view's backends as candidates that take new work (never <paramref name="excludedId"/>).</summary>
    protected static PlacementCandidate[] Rent(PoolView view, string? excludedId)
    {
        var backends = view.Backends;
        var candidates = ArrayPool<PlacementCandidate>.Shared.Rent(backends.Length);
        for (var i = 0; i < backends.Length; i++)
        {
            var b = backends[i];
            candidates[i] = new PlacementCandidate(b.Id, b.Backend.Weight, b.Backend.EffectiveWeight, b.EstimatedLoad, b.AcceptsNew && !string.Equals(b.Id, excludedId, StringComparison.Ordinal));
        }

        return candidates;
    }

    /// <summary>Returns what <see cref="Rent"/> gave and maps the chosen index to its backend.</summary>
    protected static BackendEntry? Return(PoolView view, PlacementCandidate[] candidates, int index)
    {
        ArrayPool<PlacementCandidate>.Shared.Return(candidates, clearArray: true);
        return index < 0 ? null : view.Backends[index];
    }
}

/// <summary>
/// The default: new sessions by consistent hashing with bounded loads over their key (a cold gateway recomputes where
/// they are; docs/chaos.md), keyless requests by cluster-wide least-loaded with power of two choices.
/// </summary>
internal sealed class LeastLoadedPolicy(double balanceFactor) : BalancingPolicy
{
    public override BackendEntry? Choose(PoolView view, string? sessionKey, string? requestKey, string? excludedId, Random random) =>
        sessionKey is null ? view.ChooseLeastLoadedExcept(excludedId, random) : view.Place(sessionKey, balanceFactor, excludedId);
}

/// <summary>
/// Consistent hashing with bounded loads over a request property: the same answer on every gateway, and adding or
/// removing a backend moves only the keys on it. A request without the property is balanced as by least-loaded (a new
/// session by its session key, so the guess still finds it). When the property is the session key, a cold gateway's
/// guess is exactly the placement.
/// </summary>
internal sealed class HashPolicy(HashKeySpec key, double balanceFactor) : BalancingPolicy
{
    public override string? RequestKey(HttpContext context) => key.Read(context);

    public override BackendEntry? Choose(PoolView view, string? sessionKey, string? requestKey, string? excludedId, Random random) =>
        (requestKey ?? sessionKey) is { } hashed ? view.Place(hashed, balanceFactor, excludedId) : view.ChooseLeastLoadedExcept(excludedId, random);

    public override BackendEntry? Guess(PoolView view, string sessionKey, string? requestKey) => view.Guess(requestKey ?? sessionKey);
}

/// <summary>Smooth weighted round robin. Per gateway: see docs/operations.md for why a cluster-wide order buys nothing.</summary>
internal sealed class RoundRobinPolicy : BalancingPolicy
{
    private readonly SmoothWeightedRoundRobin _rotation = new();

    public override BackendEntry? Choose(PoolView view, string? sessionKey, string? requestKey, string? excludedId, Random random)
    {
        var candidates = Rent(view, excludedId);
        return Return(view, candidates, _rotation.Next(candidates.AsSpan(0, view.Backends.Length)));
    }
}

/// <summary>Weighted random.</summary>
internal sealed class RandomPolicy : BalancingPolicy
{
    public override BackendEntry? Choose(PoolView view, string? sessionKey, string? requestKey, string? excludedId, Random random) =>
        view.ChooseRandomExcept(excludedId, random);
}

/// <summary>Ordered fallback: the first usable backend by id. Every gateway computes the same order, so the guess is that backend.</summary>
internal sealed class FirstAvailablePolicy : BalancingPolicy
{
    public override BackendEntry? Choose(PoolView view, string? sessionKey, string? requestKey, string? excludedId, Random random)
    {
        var candidates = Rent(view, excludedId);
        return Return(view, candidates, FirstAvailableBackendSelector.Select(candidates.AsSpan(0, view.Backends.Length), random));
    }

    public override BackendEntry? Guess(PoolView view, string sessionKey, string? requestKey)
    {
        // Load and slow start ignored, as in the default guess: only the cluster's verdicts, alike on every gateway.
        BackendEntry? first = null;
        foreach (var backend in view.Backends)
        {
            if (backend.Backend.AcceptsNewSessions && (first is null || string.CompareOrdinal(backend.Id, first.Id) < 0))
            {
                first = backend;
            }
        }

        return first;
    }
}

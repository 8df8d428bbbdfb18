namespace Distributed.Gateway.Configuration;

/// <summary>
/// How a pool chooses the backend of a new session and of a keyless request (<c>Balancer:Pools:&lt;pool&gt;:Policy</c>).
/// Pins always win for returning sessions. Every policy considers only backends that take new work (active, healthy or
/// panic, not drained, not at their in-flight limit) and weighs them by their effective weight (slow start included).
/// </summary>
public enum BalancingPolicyKind
{
    /// <summary>
    /// New sessions: consistent hashing with bounded loads over the session key, so a gateway without the pin guesses it
    /// right. Keyless requests: weighted least requests in flight, cluster-wide, power of two choices.
    /// </summary>
    LeastLoaded = 0,

    /// <summary>Smooth weighted round robin, per gateway (an alias of <see cref="WeightedRoundRobin"/>: weights always count).</summary>
    RoundRobin,

    /// <summary>Smooth weighted round robin (nginx), per gateway.</summary>
    WeightedRoundRobin,

    /// <summary>Weighted random.</summary>
    Random,

    /// <summary>Consistent hashing with bounded loads over <see cref="PoolOptions.HashKey"/>.</summary>
    Hash,

    /// <summary>The first usable backend in ordinal order of its id (active/standby).</summary>
    FirstAvailable,
}

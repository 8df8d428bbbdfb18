using System.Collections.Frozen;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.History;

/// <summary>Every pool's <see cref="PoolHistory"/>, sized from <see cref="HistoryOptions"/>.</summary>
internal sealed class HistoryStore(PoolRegistry pools, IOptions<BalancerOptions> options)
{
    private readonly FrozenDictionary<string, PoolHistory> _histories = options.Value.History.Enabled
        ? pools.All.ToFrozenDictionary(
            p => p.Name,
            p => new PoolHistory(p.Name, Capacity(options.Value.History), options.Value.History.SessionsInterval),
            StringComparer.Ordinal)
        : FrozenDictionary<string, PoolHistory>.Empty;

    /// <summary>Whether history is kept (<c>Balancer:History:Enabled</c>).</summary>
    public bool Enabled { get; } = options.Value.History.Enabled;

    public PoolHistory? Find(string pool) => _histories.GetValueOrDefault(pool);

    private static int Capacity(HistoryOptions history) => (int)Math.Ceiling(history.Retention / HistorySampler.Interval);
}

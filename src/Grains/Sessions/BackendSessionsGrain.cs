using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Sessions;

/// <summary>
/// The sessions pinned to one backend, for drain progress and the admin API. Kept in memory and fed one-way by the
/// session grains on every pin change and persisted expiry extension; a silo crash loses the list until the sessions'
/// next changes or extensions (documented in docs/operations.md). Expired entries are dropped as they are met.
/// </summary>
/// <remarks>
/// Never collected when idle: the list exists only in this activation, so an idle collection would silently empty
/// it (a backend whose sessions change rarely would show no sessions while draining). There is one per backend,
/// and each entry costs about 140 bytes (a tree node and the key), so 1,000,000 sessions cost about 140 MB.
/// </remarks>
[KeepAlive]
public sealed class BackendSessionsGrain([FromKeyedServices(BalancerTime.ServiceKey)] TimeProvider time) : Grain, IBackendSessionsGrain
{
    private const int MaxPage = 1000;
    private readonly SortedDictionary<string, DateTimeOffset> _sessions = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task TrackAsync(string sessionKey, DateTimeOffset expiresAt)
    {
        _sessions[sessionKey] = expiresAt;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ForgetAsync(string sessionKey)
    {
        _sessions.Remove(sessionKey);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<SessionPage> ListAsync(string? after, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxPage);
        var now = time.GetUtcNow();
        foreach (var expired in _sessions.Where(s => s.Value <= now).Select(s => s.Key).ToList())
        {
            _sessions.Remove(expired);
        }

        var page = _sessions.Keys
            .Where(k => after is null || string.CompareOrdinal(k, after) > 0)
            .Take(limit + 1)
            .ToList();
        var next = page.Count > limit ? page[limit - 1] : null;
        return Task.FromResult(new SessionPage(page.Take(limit).ToList(), next, _sessions.Count));
    }
}

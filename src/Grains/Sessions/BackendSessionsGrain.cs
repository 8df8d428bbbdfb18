using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Sessions;

/// <summary>
/// The sessions pinned to one backend, for drain progress and the admin API. Kept in memory and fed one-way by the
/// session grains on every pin change and persisted expiry extension; a silo crash loses the list, which then knows only
/// the sessions seen since (<see cref="SessionPage.TrackingSince"/>: complete once a session TTL has passed). A stored
/// marker tells the very first list of a backend (complete from the start) from one started again after a loss.
/// </summary>
/// <remarks>
/// Never collected when idle: the list exists only in this activation, so an idle collection would silently empty
/// it (a backend whose sessions change rarely would show no sessions while draining). There is one per backend. Each
/// entry costs about 180 bytes (a tree node, a hash entry and the key: 30 more than a sorted dictionary alone, the price
/// of paging without a scan), so 1,000,000 sessions cost about 180 MB. The status page asks every second for the count
/// and the admin API pages through the list, so neither scans it: the count is kept, a page seeks to its cursor in the
/// sorted keys, and lapsed entries are swept on a timer.
/// </remarks>
[KeepAlive]
public sealed class BackendSessionsGrain(
    [PersistentState("session-list", StorageNames.Pools)] IPersistentState<SessionListState> state,
    [FromKeyedServices(BalancerTime.ServiceKey)] TimeProvider time) : Grain, IBackendSessionsGrain
{
    private const int MaxPage = 1000;
    private static readonly TimeSpan Sweep = TimeSpan.FromSeconds(30);
    private readonly SortedSet<string> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _expiries = new(StringComparer.Ordinal);
    private DateTimeOffset _trackingSince;
    private IGrainTimer? _sweep;

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // An earlier list of this backend existed (and is lost): only the sessions seen from now on are known.
        _trackingSince = state.RecordExists ? time.GetUtcNow() : DateTimeOffset.MinValue;
        _sweep = this.RegisterGrainTimer(SweepLapsedAsync, new GrainTimerCreationOptions(Sweep, Sweep));
        await StoreMarkerAsync();
    }

    /// <inheritdoc />
    public Task TrackAsync(string sessionKey, DateTimeOffset expiresAt)
    {
        _keys.Add(sessionKey);
        _expiries[sessionKey] = expiresAt;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ForgetAsync(string sessionKey)
    {
        if (_expiries.Remove(sessionKey))
        {
            _keys.Remove(sessionKey);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<SessionPage> ListAsync(string? after, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxPage);
        var now = time.GetUtcNow();
        var page = new List<string>(Math.Min(limit, _keys.Count));
        string? next = null;
        if (_keys.Count > 0 && (after is null || string.CompareOrdinal(after, _keys.Max) < 0))
        {
            var rest = after is null ? _keys : _keys.GetViewBetween(after, _keys.Max!);
            foreach (var key in rest)
            {
                if (key == after || _expiries[key] <= now)
                {
                    continue; // the cursor itself, or lapsed and not swept yet
                }

                if (page.Count == limit)
                {
                    next = page[^1];
                    break;
                }

                page.Add(key);
            }
        }

        // The count includes sessions lapsed since the last sweep (at most 30 s ago): an overcount, never an undercount.
        return Task.FromResult(new SessionPage(page, next, _keys.Count, _trackingSince));
    }

    private async Task SweepLapsedAsync()
    {
        var now = time.GetUtcNow();
        foreach (var (key, _) in _expiries.Where(e => e.Value <= now).ToList())
        {
            _expiries.Remove(key);
            _keys.Remove(key);
        }

        await StoreMarkerAsync();
    }

    // One small write per backend, ever (retried on the sweep until it is stored).
    private async Task StoreMarkerAsync()
    {
        if (state.RecordExists)
        {
            return;
        }

        try
        {
            state.State.FirstStarted = time.GetUtcNow();
            await state.WriteStateAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The store refused; the next sweep tries again. Until then a lost list would be taken for a first one.
        }
    }
}

/// <summary>Stored marker of a backend's session list: that one existed.</summary>
[GenerateSerializer, Alias("Distributed.SessionListState")]
public sealed class SessionListState
{
    /// <summary>When the backend's first list started.</summary>
    [Id(0)]
    public DateTimeOffset FirstStarted { get; set; }
}

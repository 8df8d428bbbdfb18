using Distributed.Grains.Abstractions;
using Orleans.Storage;

namespace Distributed.Grains.Pools;

/// <summary>The pool grain's admin operations: each one planned on the stored catalog, stored, then applied.</summary>
public sealed partial class PoolGrain
{
    /// <inheritdoc />
    public Task<AdminResult> AddBackendAsync(BackendSpec backend, string actor) => AdminAsync(now => _catalog.Add(backend, actor, now));

    /// <inheritdoc />
    public Task<AdminResult> UpdateBackendAsync(string backendId, BackendPatch patch, string actor) => AdminAsync(_ => _catalog.Update(backendId, patch, actor));

    /// <inheritdoc />
    public async Task<AdminResult> RemoveBackendAsync(string backendId, string actor)
    {
        var result = await AdminAsync(_ => _catalog.Remove(backendId, actor));
        if (result.Succeeded)
        {
            _health.Forget(backendId);
            await GrainFactory.GetGrain<IBackendProbeGrain>(BackendKey(backendId)).StopAsync();
        }

        return result;
    }

    /// <inheritdoc />
    public Task<AdminResult> DrainBackendAsync(string backendId, TimeSpan? timeout, string actor) => AdminAsync(now => _catalog.Drain(backendId, timeout, actor, now));

    /// <inheritdoc />
    public Task<AdminResult> CancelDrainAsync(string backendId, string actor) => AdminAsync(_ => _catalog.CancelDrain(backendId, actor));

    // Validates, stores, applies; the outcome maps to an HTTP status in the admin API.
    private async Task<AdminResult> AdminAsync(Func<DateTimeOffset, CatalogChange> plan)
    {
        CatalogChange change;
        try
        {
            change = await CommitAsync(plan);
        }
        catch (Exception ex) when (ex is not ArgumentException)
        {
            _log.AdminChangeNotStored(ex);
            return new AdminResult(AdminOutcome.NotStored, Snapshot(time.GetUtcNow()), $"The pool's store refused the change ({ex.GetType().Name}); nothing changed. Retry once the store is back.");
        }

        await EnsureProbersAsync();
        return new AdminResult(change.Outcome, Snapshot(time.GetUtcNow()), change.Detail);
    }

    // Plans on the stored catalog, stores, then publishes. Keeps-sessions changes not stored yet ride along. When
    // another activation stored first, the plan runs again on what it stored (it may now be refused, e.g. a conflict).
    private async Task<CatalogChange> CommitAsync(Func<DateTimeOffset, CatalogChange> plan)
    {
        for (var attempt = 1; ; attempt++)
        {
            var now = time.GetUtcNow();
            var change = plan(now);
            if (change.Next is not { } next)
            {
                return change;
            }

            next = WithKeepsSessions(next, now) ?? next;
            if (await _store.WriteAsync(next) is not { } stored)
            {
                _catalog.Publish(next);
                _log.Raise(change.Event);
                return change;
            }

            _catalog.Publish(stored);
            if (attempt == 3)
            {
                throw new InconsistentStateException($"Pool '{Name}': another activation kept storing the catalog first.");
            }
        }
    }
}

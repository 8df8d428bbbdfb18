using Distributed.Grains;
using Distributed.Grains.Abstractions;
using Orleans.Persistence;
using Orleans.Storage;
using StackExchange.Redis;

namespace Distributed.Silo;

/// <summary>
/// Orleans' Redis grain storage whose records expire when their state says it is no longer needed
/// (<see cref="IExpiringState"/>) plus a margin: after every write the record's Redis expiry is set to
/// <c>KeepUntil + margin</c>. A lapsed pin then leaves Redis even if its session never comes back, so the store grows
/// with live sessions, not with every session ever seen. Orleans' own <c>EntryExpiry</c> is one fixed time for every
/// record; a pin's lifetime depends on its pool's session TTL and on when it was last extended.
/// </summary>
/// <remarks>
/// The margin covers an expiry extension the session grain keeps in memory and has not written yet: it writes it at the
/// latest when its activation leaves, two idle minutes after its last call (five minutes by default). The precise expiry
/// is set with a second command after the write; Orleans' own write sets <see cref="Backstop"/> atomically with the
/// data, so a record whose second command failed (logged) still leaves within a week.
/// </remarks>
internal sealed partial class ExpiringRedisGrainStorage(
    IGrainStorage inner,
    ExpiringRedisGrainStorage.Connection connection,
    TimeSpan margin,
    ILogger<ExpiringRedisGrainStorage> logger) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>The expiry every write sets with the data: longer than any session TTL a gateway accepts, plus margin.</summary>
    public static readonly TimeSpan Backstop = TimeSpan.FromDays(7) + TimeSpan.FromHours(1);

    /// <summary>Redis key of a grain's state record: Orleans' default layout, <c>{ServiceId}/state/{grain type}/{grain key}/{state name}</c>.</summary>
    public static RedisKey Key(string serviceId, string stateName, GrainId grainId) => $"{serviceId}/state/{grainId.Type}/{grainId.Key}/{stateName}";

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Translated(inner.ReadStateAsync(stateName, grainId, grainState), "read", grainId);

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Translated(inner.ClearStateAsync(stateName, grainId, grainState), "clear", grainId);

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        await Translated(inner.WriteStateAsync(stateName, grainId, grainState), "write", grainId);
        if (grainState.State is not IExpiringState { KeepUntil: { } until } || connection.Database is not { } database)
        {
            return;
        }

        try
        {
            await database.KeyExpireAsync(Key(connection.ServiceId, stateName, grainId), (until + margin).UtcDateTime);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogExpiryNotSet(logger, grainId.ToString(), ex);
        }
    }

    // The provider's failures (RedisStorageException, of an assembly gateways do not load) become an exception every
    // caller can deserialize; the original stays on the silo, logged by Orleans. An ETag conflict is the grain's to handle.
    private static async Task Translated(Task operation, string what, GrainId grainId)
    {
        try
        {
            await operation;
        }
        catch (Exception ex) when (ex is not (InconsistentStateException or OperationCanceledException))
        {
            throw new StoreUnavailableException($"The store could not {what} the state of {grainId}: {ex.GetBaseException().Message}");
        }
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Grain {GrainId}: its state was stored but its expiry could not be set; it is set again with the next write.")]
    private static partial void LogExpiryNotSet(ILogger logger, string grainId, Exception exception);

    /// <summary>The connection Orleans' Redis storage opened, shared so expiries go over it.</summary>
    internal sealed class Connection(string serviceId)
    {
        public string ServiceId { get; } = serviceId;

        public IDatabase? Database { get; private set; }

        /// <summary>For <see cref="RedisStorageOptions.CreateMultiplexer"/>: Orleans' default connection, kept.</summary>
        public async Task<(IConnectionMultiplexer Multiplexer, bool IsShared)> CreateAsync(RedisStorageOptions options)
        {
            var created = await RedisStorageOptions.DefaultCreateMultiplexer(options);
            Database = created.Multiplexer.GetDatabase();
            return created;
        }
    }
}

namespace Distributed.Grains;

/// <summary>Names of the grain storage providers the silo must register.</summary>
public static class StorageNames
{
    /// <summary>Session pins: many small entries, written on pin changes and batched expiry extensions.</summary>
    public const string Sessions = "sessions";

    /// <summary>Pool registries: few entries, written on administrative changes.</summary>
    public const string Pools = "pools";
}

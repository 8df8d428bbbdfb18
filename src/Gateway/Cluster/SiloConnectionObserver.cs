namespace Distributed.Gateway.Cluster;

/// <summary>
/// Tells <see cref="ClusterConnectivity"/> how many silos the Orleans client is connected to, as Orleans reports it, so
/// requests stop waiting on grain calls while there is no silo to answer them (every silo down, or a partition).
/// </summary>
/// <remarks>
/// Orleans counts the silos it holds a connection to. With every silo down the count drops to 0 at once (the connections
/// close), which is seconds before the load reports fail twice (<see cref="ClusterConnectivity.IsDegraded"/>); it may
/// rise again for a moment when the client's periodic refresh of the silo list tries a dead silo once more.
/// </remarks>
internal sealed partial class SiloConnectionObserver(ClusterConnectivity connectivity, ILogger<SiloConnectionObserver> logger) : IClusterConnectionStatusObserver
{
    /// <inheritdoc />
    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        var before = connectivity.SiloConnectionsChanged(currentNumberOfGateways);
        if (currentNumberOfGateways > 0 && before == 0)
        {
            LogReconnected(logger, currentNumberOfGateways);
        }
        else if (currentNumberOfGateways == 0 && before != 0)
        {
            LogNoSilo(logger);
        }
    }

    /// <inheritdoc />
    public void NotifyClusterConnectionLost()
    {
        if (connectivity.SiloConnectionsChanged(0) != 0)
        {
            LogNoSilo(logger);
        }
    }

    [LoggerMessage(EventId = 2009, Level = LogLevel.Information, Message = "No silo connected: requests whose pin is not cached route by their guess without waiting for the cluster until one is back.")]
    private static partial void LogNoSilo(ILogger logger);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Connected to {Silos} silo(s) again: requests ask the session grains again, within their wait budget.")]
    private static partial void LogReconnected(ILogger logger, int silos);
}

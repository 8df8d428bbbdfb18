using Distributed.Gateway.Shutdown;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Gateway.Tests.Shutdown;

[Trait("Category", "Unit")]
public sealed class GracefulShutdownTests
{
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new();
    private readonly ApplicationLifetime _lifetime = new(NullLogger<ApplicationLifetime>.Instance);

    private GracefulShutdown Create() =>
        new(_lifetime, Options.Create(new ShutdownOptions { DrainPeriod = Drain }), _time, NullLogger<GracefulShutdown>.Instance);

    [Fact]
    public async Task StoppingAsync_AfterSigterm_DrainsForTheDrainPeriodThenSignalsClosing()
    {
        using var shutdown = Create();
        Assert.False(shutdown.IsDraining);

        _lifetime.StopApplication(); // what SIGTERM does, before the host calls StoppingAsync
        Assert.True(shutdown.IsDraining);
        var stopping = shutdown.StoppingAsync(CancellationToken.None);

        _time.Advance(Drain - TimeSpan.FromMilliseconds(1));
        Assert.False(stopping.IsCompleted);
        Assert.False(shutdown.Closing.IsCancellationRequested);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await stopping;
        Assert.True(shutdown.Closing.IsCancellationRequested);
        Assert.True(shutdown.IsDraining);
    }

    [Fact]
    public async Task StoppingAsync_HostShutdownTimeoutRunsOutDuringTheDrain_ClosesAtOnce()
    {
        using var shutdown = Create();
        using var hostTimeout = new CancellationTokenSource();
        _lifetime.StopApplication();
        var stopping = shutdown.StoppingAsync(hostTimeout.Token);

        await hostTimeout.CancelAsync();
        await stopping;

        Assert.True(shutdown.Closing.IsCancellationRequested);
    }
}

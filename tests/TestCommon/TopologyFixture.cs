using Distributed.Topology;
using Xunit;

namespace Distributed.TestCommon;

/// <summary>
/// One <see cref="LocalTopology"/> shared by the tests of a class (<c>IClassFixture</c>) or a collection
/// (<c>ICollectionFixture</c>): started before the first of them, stopped after the last.
/// </summary>
public abstract class TopologyFixture : IAsyncLifetime
{
    private LocalTopology? _topology;

    /// <summary>The running topology.</summary>
    public LocalTopology Topology => _topology ?? throw new InvalidOperationException("Topology not started.");

    /// <summary>An HTTP client for the tests (no cookie container: tests set the cookies they mean to send).</summary>
    public HttpClient Http { get; } = new(new SocketsHttpHandler { UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };

    /// <inheritdoc />
    public virtual async Task InitializeAsync() => _topology = await LocalTopology.StartAsync(Options());

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        Http.Dispose();
        if (_topology is not null)
        {
            await _topology.DisposeAsync();
        }
    }

    /// <summary>What to start; called once, by <see cref="InitializeAsync"/>.</summary>
    protected abstract TopologyOptions Options();
}


namespace Distributed.Chaos.Tests;

/// <summary>
/// Pins through compound failures (issue 11): sequences of faults of another shape than <see cref="ClusterChaosTests"/>,
/// each under steady sticky load through both gateways with a client that retries once on the other gateway. Every
/// sequence must fail no request and move no session, except sessions whose backend died (once), guesses for sessions
/// created while the whole cluster was down (counted), and at most 1% of header sessions a cold gateway meets during a
/// total outage (none of the cookie sessions). No routing decision may take longer than the budget plus 50 ms.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class CompoundFailureTests(ITestOutputHelper output) : ProcessTest(output)
{
    // Every decision (p100), as issue 11 asks: the budget ends every wait on the cluster, and while the cluster is away
    // nothing waits at all. A decision that still overruns is the gateway process (GC, thread pool, CPU it was not
    // given), and the gateway's own log says which (event 3004, printed with a failed test's process output).
    private static readonly double DecisionLimitMs = CompoundRun.Budget.TotalMilliseconds + 50;

    [Fact]
    public async Task FourCompoundSequences_NoRequestFailsNoSessionSplitsAndNoDecisionOutwaitsTheBudget()
    {
        await using var run = await CompoundRun.StartAsync(Output, redisAppendOnly: true);
        await run.WarmUpAsync();
        var existingHeaderSessions = run.Sessions.Count(s => !s.IsCookie);

        // 1. Two silos killed within 5 s of each other: the second dies while grains of the first re-activate.
        var twoSilos = await run.PhaseAsync("silo1 and silo2 killed 3 s apart", async _ =>
        {
            run.Topology.Kill("silo1");
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(3));
            run.Topology.Kill("silo2");
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(5));
            await Task.WhenAll(run.Topology.RestartAsync("silo1"), run.Topology.RestartAsync("silo2"));
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(3));
        });

        // 2. Redis (membership and grain storage) down for 12 s while new users arrive on both gateways at once.
        var redis = await run.PhaseAsync("Redis killed for 12 s while 180 new sessions arrive", async _ =>
        {
            var killed = run.Load.Now;
            run.Topology.Kill("redis");
            await run.NewSessionsAsync("redis", header: 150, cookie: 30);
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(12) - (run.Load.Now - killed));
            await run.Topology.RestartAsync("redis");
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(4));
        });

        // A store failure must reach the gateways as an exception they can read: one of an assembly they do not load
        // (the Redis provider's own) made Orleans drop the whole response, and each such call waited its full budget.
        var unreadable = run.Topology.Gateways.Where(g => g.Process!.RecentOutput().Contains("Could not load file or assembly", StringComparison.Ordinal)).Select(g => g.Name).ToList();

        // 3. A gateway restarted (empty cache), then every silo down for 25 s: the cold gateway can only guess.
        var cold = await run.PhaseAsync("gateway1 restarted, then every silo killed for 25 s", async phase =>
        {
            await run.Topology.RestartAsync("gateway1");
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(2));
            var down = run.Load.Now;
            phase.OutageStarts(down, coldGateway: 0);
            await run.KillEverySiloAsync();
            phase.CreatedDuringOutage(await run.NewSessionsAsync("outage", header: 100, cookie: 20));
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(25) - (run.Load.Now - down));
            phase.OutageEnds(run.Load.Now);
            await run.RestartEverySiloAsync();
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(3));
        });

        // 4. b2's health flips (unhealthy, then healthy again) while gateway2 is paused: it resumes with a view from
        // before the flip, in which sessions that gateway1 moved off b2 are still cached on b2.
        var flip = await run.PhaseAsync("b2 unhealthy and back while gateway2 is paused", async phase =>
        {
            phase.Disturbs("b2");
            await run.PauseGatewayAsync(1);
            try
            {
                await run.FailHealthAsync("b2", fail: true);
                await run.WaitForHealthAsync("web", "b2", "Unhealthy");
                await CompoundRun.HoldAsync(TimeSpan.FromSeconds(2));
                await run.FailHealthAsync("b2", fail: false);
                await run.WaitForHealthAsync("web", "b2", "Healthy");
            }
            finally
            {
                await run.ResumeGatewayAsync(1);
            }

            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(5));
        });

        await run.Load.StopAsync();
        run.Analyse();
        var mismatches = await run.VerifyThroughRestartedGatewaysAsync();
        Output.WriteLine($"After the run, through restarted gateways: {mismatches.Count} sessions answered by another backend than the one that served them last; {run.ReturnedAfterTheRun} answered from their pin again after a move counted above.");
        foreach (var line in mismatches.Take(20))
        {
            Output.WriteLine($"  {line}");
        }

        var failed = run.Phases.SelectMany(p => p.Failures).ToList();
        failed.Take(20).ToList().ForEach(f => Output.WriteLine($"failed: {f}"));

        Assert.Empty(failed);
        Assert.Empty(unreadable);
        Assert.Empty(mismatches);
        Assert.All(run.Phases, p => Assert.True(p.MaxRouteMs <= DecisionLimitMs, $"{p.Name}: routing decisions p99 {p.RouteMsP99:F1} ms, max {p.MaxRouteMs:F1} ms (limit {DecisionLimitMs} ms)."));
        Assert.Empty(twoSilos.Moves);
        Assert.Empty(redis.Moves);
        Assert.Empty(flip.Moves);
        var (header, cookie) = cold.MovedSessions(run.Sessions);
        Assert.True(header <= existingHeaderSessions / 100, $"{header} header sessions moved while the cold gateway met the outage.");
        Assert.Equal(0, cookie);
        Assert.True(cold.ColdAccuracy.HeaderCount > 500, $"The cold gateway saw only {cold.ColdAccuracy.HeaderCount} existing header sessions during the outage.");
        Assert.Equal(1, cold.ColdAccuracy.Cookie);
        Assert.True(flip.AllowedMoves > 0, "No session was moved off b2 while it was unhealthy: the flip did not happen.");
    }

    [Fact]
    public async Task RedisLosesItsDataThenEverySiloGoes_TrafficNeverStopsAndSessionsKeepTheirBackends()
    {
        // The topology tool's Redis without persistence: a restart empties membership, registries and pins.
        await using var run = await CompoundRun.StartAsync(Output, redisAppendOnly: false, headerSessions: 2000, cookieSessions: 200);
        await run.WarmUpAsync();
        var lost = await run.PhaseAsync("Redis restarted empty, then every silo killed for 15 s", async _ =>
        {
            run.Topology.Kill("redis");
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(2));
            await run.Topology.RestartAsync("redis");
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(4));
            var down = run.Load.Now;
            await run.KillEverySiloAsync();
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(15) - (run.Load.Now - down));
            await run.RestartEverySiloAsync();
            await CompoundRun.HoldAsync(TimeSpan.FromSeconds(5));
        });

        await run.Load.StopAsync();
        var reseeds = await run.ReseedsAsync();
        run.Analyse();
        var mismatches = await run.VerifyThroughRestartedGatewaysAsync();
        Output.WriteLine($"Pools seeded again by the gateways: {reseeds}; after the run, through restarted gateways, {mismatches.Count} sessions answered by another backend than the one that served them last.");
        foreach (var line in mismatches.Take(20))
        {
            Output.WriteLine($"  {line}");
        }

        lost.Failures.Take(20).ToList().ForEach(f => Output.WriteLine($"failed: {f}"));

        // No failed request in either pool means both had their backend catalog again. Who restored it varies: a pool
        // grain still active when Redis came back empty writes its catalog back from memory (event 5103) and needs no
        // reseed; one first activated after the silos' restart finds nothing and a gateway seeds it (counted above). A
        // clean-clone run had 1 reseed for 2 pools, so the count is printed, not asserted.
        Assert.Empty(lost.Failures);
        Assert.Empty(lost.Moves);

        // With the store's data, every silo and then every gateway cache gone, nothing remembers a header session that
        // bounded loads placed past its first choice (about one in a thousand): after the run its next request is placed
        // afresh. Such a session is asked for as new; any other mismatch is a lost pin.
        var replaced = mismatches.GroupBy(m => m[..m.IndexOf(':', StringComparison.Ordinal)], StringComparer.Ordinal).ToList();
        Assert.All(replaced, g => Assert.Contains(g, m => m.Contains("decided by new", StringComparison.Ordinal)));
        Assert.True(replaced.Count <= run.Sessions.Count / 200, $"{replaced.Count} sessions answered elsewhere after the run.");
        Assert.True(lost.MaxRouteMs <= DecisionLimitMs, $"Routing decisions p99 {lost.RouteMsP99:F1} ms, max {lost.MaxRouteMs:F1} ms (limit {DecisionLimitMs} ms).");
    }
}

using System.Diagnostics;
using System.Net;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

[CollectionDefinition(Name)]
public sealed class OperationsTopology : ICollectionFixture<OperationsTopologyFixture>
{
    public const string Name = "operations topology";
}

[Trait("Category", "Integration")]
[Collection(OperationsTopology.Name)]
public sealed class HealthAndOperationsTests(OperationsTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    private static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(200);

    // The backends that served count requests through a gateway: each a new session, or keyless.
    private async Task<HashSet<string>> BackendsServingAsync(int gateway, int count, bool newSessions)
    {
        var seen = new HashSet<string>();
        for (var i = 0; i < count; i++)
        {
            var (status, backend) = await fixture.SendAsync(gateway, "/", newSessions ? $"probe-{Guid.NewGuid():N}" : null);
            Assert.Equal(200, status);
            seen.Add(backend!);
        }

        return seen;
    }

    private Task<HashSet<string>> NewSessionBackendsAsync(int gateway, int count) => BackendsServingAsync(gateway, count, newSessions: true);

    private Task<HashSet<string>> KeylessBackendsAsync(int gateway, int count) => BackendsServingAsync(gateway, count, newSessions: false);

    private Task<TimeSpan> WaitAllHealthyAsync(string pool) => Wait.UntilAsync(
        async () => (await fixture.BackendsAsync(pool)).All(b => b.Health == "Healthy" && b.State == "Active"),
        TimeSpan.FromSeconds(20),
        $"every backend of {pool} to be healthy and active");

    [Fact]
    public async Task BackendFailingItsHealthCheck_IsAvoidedByEveryGatewayWithinAProbeCycleAndReturnsAfterRecovery()
    {
        await WaitAllHealthyAsync("web");
        await fixture.EchoAsync("b2", "/_echo/fail?health=true");
        try
        {
            // Fall (2) probes of 500 ms, then one report interval for each gateway to pick the verdict up.
            var budget = OperationsTopologyFixture.ProbeInterval * 2 + TimeSpan.FromMilliseconds(400) + (ReportInterval * 2) + TimeSpan.FromSeconds(1);
            await Wait.UntilAsync(
                async () => !(await NewSessionBackendsAsync(0, 15)).Contains("b2") && !(await NewSessionBackendsAsync(1, 15)).Contains("b2"),
                budget,
                "both gateways to stop sending new sessions to b2, which fails its health check");
            Assert.Equal("Unhealthy", (await fixture.BackendsAsync("web", gateway: 1)).Single(b => b.Id == "b2").Health);
        }
        finally
        {
            await fixture.EchoAsync("b2", "/_echo/reset");
        }

        await Wait.UntilAsync(
            async () => (await NewSessionBackendsAsync(0, 20)).Contains("b2") && (await NewSessionBackendsAsync(1, 20)).Contains("b2"),
            OperationsTopologyFixture.ProbeInterval * 3 + TimeSpan.FromSeconds(2),
            "b2 to take new sessions again after it recovered");
    }

    [Fact]
    public async Task HealthProbes_ArriveOncePerIntervalPerBackend_WhateverTheNumberOfGateways()
    {
        await WaitAllHealthyAsync("web");
        var before = (await fixture.StatsAsync("b1")).HealthChecks;
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(5)); // the measurement window
        var probes = (await fixture.StatsAsync("b1")).HealthChecks - before;
        var expected = clock.Elapsed / OperationsTopologyFixture.ProbeInterval;

        // Two gateways, one pool with probes: one prober for b1 in the whole cluster, not one per gateway (20).
        Assert.InRange(probes, expected - 2, expected + 2);
    }

    [Fact]
    public async Task BackendKilledUnderLoad_IsEjectedFromPassiveReportsWithinOneSecondAndNoRequestFails()
    {
        using var stop = new CancellationTokenSource();
        var failures = 0;
        var requests = 0;
        var load = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var (status, _) = await fixture.SendAsync(i % 2, "/p/load");
                Interlocked.Increment(ref requests);
                if (status != 200)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        try
        {
            await Wait.UntilAsync(() => Task.FromResult(Volatile.Read(ref requests) > 50), TimeSpan.FromSeconds(10), "the load to start");
            fixture.Topology.Kill("b3");
            var took = await Wait.UntilAsync(
                async () => (await fixture.BackendsAsync("passive")).Single(b => b.Id == "b3").Health == "Ejected",
                TimeSpan.FromSeconds(5),
                "b3 to be ejected from passive reports");
            Assert.True(took < TimeSpan.FromSeconds(1), $"b3 was ejected {took.TotalMilliseconds:F0} ms after the kill; expected under 1 s.");
        }
        finally
        {
            await stop.CancelAsync();
            await load;
            await fixture.Topology.RestartAsync("b3");
        }

        // Requests that met the dead backend were retried on another one (idempotent GETs).
        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task DrainedBackend_TakesNoNewSessionsKeepsItsOwnUntilTheDeadlineThenTheyMove()
    {
        await WaitAllHealthyAsync("web");
        var keys = Enumerable.Range(0, 60).Select(i => $"drain-{Guid.NewGuid():N}-{i}").ToList();
        var pins = new Dictionary<string, string>();
        foreach (var key in keys)
        {
            pins[key] = (await fixture.SendAsync(0, "/", key)).Backend!;
        }

        var onB1 = keys.Where(k => pins[k] == "b1").ToList();
        Assert.NotEmpty(onB1);
        var drainTimeout = TimeSpan.FromSeconds(4);
        using (var drain = fixture.Admin(HttpMethod.Post, "/admin/pools/web/backends/b1/drain", new { timeout = drainTimeout.ToString() }))
        using (var response = await fixture.Http.SendAsync(drain))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var drainedAt = Stopwatch.StartNew();
        try
        {
            // The gateway that took the call routes by the drain as soon as it answers: new sessions and keyless requests
            // (which take the same least-loaded path without creating a session) avoid b1 at once.
            Assert.DoesNotContain("b1", await NewSessionBackendsAsync(0, 15));
            Assert.DoesNotContain("b1", await KeylessBackendsAsync(0, 15));

            // The other gateway learns it from its next snapshots.
            await Wait.UntilAsync(
                async () => !(await NewSessionBackendsAsync(1, 15)).Contains("b1") && !(await KeylessBackendsAsync(1, 15)).Contains("b1"),
                ReportInterval * 2 + TimeSpan.FromSeconds(1),
                "the other gateway to stop sending new work to the drained b1");
            Assert.DoesNotContain("b1", await NewSessionBackendsAsync(1, 15));
            Assert.DoesNotContain("b1", await NewSessionBackendsAsync(0, 15));

            // Before the deadline the existing sessions stay, through either gateway, and the progress counts them.
            foreach (var key in onB1)
            {
                Assert.Equal("b1", (await fixture.SendAsync(1, "/", key)).Backend);
            }

            var progress = (await fixture.BackendsAsync("web")).Single(b => b.Id == "b1");
            Assert.True(drainedAt.Elapsed < drainTimeout, "The checks before the deadline took too long to mean anything.");
            Assert.Equal("Draining", progress.State);
            Assert.True(progress.DrainRemainingSessions >= onB1.Count, $"{progress.DrainRemainingSessions} sessions remaining; {onB1.Count} were pinned here by this test.");
            Assert.False(progress.SafeToRemove);

            // After the deadline they move, and the progress reaches zero.
            await Wait.UntilAsync(
                async () => (await fixture.BackendsAsync("web")).Single(b => b.Id == "b1").KeepsSessions == false,
                drainTimeout + TimeSpan.FromSeconds(2),
                "the drain deadline to pass");
            await Wait.UntilAsync(
                async () =>
                {
                    foreach (var key in onB1)
                    {
                        if ((await fixture.SendAsync(0, "/", key)).Backend == "b1")
                        {
                            return false;
                        }
                    }

                    return true;
                },
                ReportInterval * 2 + TimeSpan.FromSeconds(1),
                "every session of b1 to move after the deadline");
            await Wait.UntilAsync(
                async () => (await fixture.BackendsAsync("web")).Single(b => b.Id == "b1") is { DrainRemainingSessions: 0, SafeToRemove: true },
                TimeSpan.FromSeconds(5),
                "the drain progress to reach zero");

            // The moved sessions left b1's session list.
            using var list = fixture.Admin(HttpMethod.Get, "/admin/pools/web/backends/b1/sessions?limit=1000");
            using var listed = await fixture.Http.SendAsync(list);
            var onB1Now = await listed.Content.ReadAsStringAsync();
            Assert.All(onB1, key => Assert.DoesNotContain(key, onB1Now, StringComparison.Ordinal));
            Assert.All(keys.Except(onB1), k => Assert.NotEqual("b1", pins[k]));
        }
        finally
        {
            using var undrain = fixture.Admin(HttpMethod.Delete, "/admin/pools/web/backends/b1/drain");
            using var response = await fixture.Http.SendAsync(undrain);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Weights_UnderConcurrentLoad_WorkIsSharedInProportion() =>
        Assert.InRange(await ShareOfAsync("/w/x", "b2", 480), 0.66, 0.84); // weight 3 against 1: 75% expected

    [Fact]
    public async Task SlowStart_AddedBackendRampsUpOnTheSharedClock()
    {
        using (var add = fixture.Admin(HttpMethod.Post, "/admin/pools/slow/backends", new { id = "b2", address = fixture.Topology.Backends[1].Address.ToString() }))
        using (var response = await fixture.Http.SendAsync(add))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        var clock = Stopwatch.StartNew();
        var knows = new bool[2];
        await Wait.UntilAsync(
            async () =>
            {
                for (var gateway = 0; gateway < 2; gateway++)
                {
                    knows[gateway] |= (await fixture.SendAsync(gateway, "/s/x")).Backend == "b2";
                }

                return knows[0] && knows[1];
            },
            TimeSpan.FromSeconds(3),
            "both gateways to route to b2");
        var early = await ShareOfAsync("/s/x", "b2", 240);
        var earlyElapsed = clock.Elapsed;
        var ramping = (await fixture.BackendsAsync("slow")).Single(b => b.Id == "b2");
        Assert.True(earlyElapsed < OperationsTopologyFixture.SlowStart / 2, $"Sampling took {earlyElapsed}; too slow to see the ramp.");
        Assert.True(ramping.EffectiveWeight < 0.6, $"Effective weight {ramping.EffectiveWeight} during the ramp.");

        await Wait.UntilAsync(async () => (await fixture.BackendsAsync("slow")).Single(b => b.Id == "b2").EffectiveWeight >= 1, OperationsTopologyFixture.SlowStart + TimeSpan.FromSeconds(2), "the ramp to finish");
        var late = await ShareOfAsync("/s/x", "b2", 240);

        // During the first half of the ramp b2 has at most half of b1's weight; after it, the same. Power of two choices
        // on each gateway's live counts gives the lighter backend a little more than its weight under light load, so
        // the check is that b2 takes clearly less early on than once ramped, and about half then.
        Assert.InRange(late, 0.38, 0.62);
        Assert.True(early < 0.4 && early + 0.1 < late, $"b2 took {early:P0} of the requests during its slow start and {late:P0} after it.");
    }

    // Eight clients through both gateways, 20 ms per request: under load, least load per weight shares work by weight
    // (sequential idle requests would mostly measure how stale one gateway's view of the other's in-flight count is).
    private async Task<double> ShareOfAsync(string path, string backend, int requests)
    {
        var hits = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            if ((await fixture.SendAsync(i % 2, path, delayMs: 20, cancellationToken: ct)).Backend == backend)
            {
                Interlocked.Increment(ref hits);
            }
        });
        return hits / (double)requests;
    }

    [Fact]
    public async Task MaxInFlight_IsRespectedAcrossBothGateways_ThenRequestsAre503WithRetryAfter()
    {
        using var release = new CancellationTokenSource();
        var held = new List<Task<(int Status, string? Backend)>>();
        var peaks = new Dictionary<string, int> { ["b1"] = 0, ["b2"] = 0 };
        try
        {
            for (var i = 0; i < 6; i++)
            {
                held.Add(fixture.SendAsync(i % 2, "/l/hold", delayMs: 8000, cancellationToken: release.Token));
                // Slower than a report round trip, so each gateway knows the other's admissions.
                await Wait.UntilAsync(
                    async () => (await fixture.StatsAsync("b1")).InFlight + (await fixture.StatsAsync("b2")).InFlight == held.Count,
                    TimeSpan.FromSeconds(5),
                    $"request {held.Count} to reach a backend");
                await Task.Delay(ReportInterval * 3);
            }

            foreach (var backend in peaks.Keys.ToList())
            {
                peaks[backend] = (await fixture.StatsAsync(backend)).InFlight;
            }

            Assert.Equal(3, peaks["b1"]);
            Assert.Equal(3, peaks["b2"]);

            foreach (var gateway in new[] { 0, 1 })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(fixture.Topology.Gateways[gateway].Address, "/l/more"));
                using var response = await fixture.Http.SendAsync(request);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.True(response.Headers.RetryAfter is not null, "503 without Retry-After");
            }
        }
        finally
        {
            await release.CancelAsync();
            foreach (var task in held)
            {
                try
                {
                    await task;
                }
                catch (OperationCanceledException)
                {
                    // Released on purpose.
                }
            }
        }
    }
}

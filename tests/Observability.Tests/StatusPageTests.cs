using System.Diagnostics;
using System.Globalization;
using System.Net;
using Distributed.Topology;
using Microsoft.Playwright;

namespace Distributed.Observability.Tests;

/// <summary>
/// The status page in headless Chromium (the Debian package, driven by Playwright) against a real gateway: live charts
/// from the gateway's history, the pool's events timeline, and actions that go through the admin API and show its answer,
/// all without a reload.
/// </summary>
[Trait("Category", "Observability")]
[Collection(ObservabilityTopology.Name)]
public sealed class StatusPageTests(ObservabilityTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    /// <summary>Set to 1 to refresh the screenshot in docs/ (otherwise it only goes to artifacts/).</summary>
    public const string UpdateDocsScreenshot = "DISTRIBUTED_UPDATE_SCREENSHOTS";

    private const float WaitMs = 60_000;

    [Fact]
    public async Task DrainFromThePage_UnderTraffic_TimelineShowsItChartFallsToZeroNewSessionsAndBadgeChanges()
    {
        await using var page = await StatusPage.OpenAsync(fixture);
        using var stop = new CancellationTokenSource();
        var traffic = Task.WhenAll(Enumerable.Range(0, 2).Select(_ => NewSessionsAsync(stop.Token)));
        try
        {
            // Every backend takes part of the new sessions, as its request-rate chart shows.
            foreach (var backend in fixture.Topology.Backends)
            {
                await page.WaitForChartAsync(backend.Id, "requestRate", "value > 5");
            }

            await page.MarkDocumentAsync();
            var lastEvent = await page.LastEventIdAsync();
            await page.Row("b2").Locator("button[data-action=drain]").ClickAsync();
            await page.ConfirmAsync("Drain b2");
            await page.WaitForAnswerAsync("POST /admin/pools/web/backends/b2/drain → 200");

            // The badge changes in place...
            await page.Row("b2").Locator(".badge.Draining").WaitForAsync(new() { Timeout = WaitMs });
            Assert.Contains("left", await page.Row("b2").InnerTextAsync(), StringComparison.Ordinal);

            // ...the drain shows in the events timeline, by the caller the admin API named (the browser's address, through
            // this gateway), then with the sessions b2 held when it started, counted by the pool grain.
            var drainEvent = await page.WaitForEventAsync("DrainStarted", "b2", after: lastEvent, "text.includes('pinned then')");
            Assert.Contains("b2 draining until", drainEvent, StringComparison.Ordinal);
            Assert.Contains("by 127.0.0.1 via ", drainEvent, StringComparison.Ordinal);

            // ...and b2's chart falls to zero: no new sessions go there, while the others keep taking them.
            var (_, zeroAt) = await page.WaitForChartAsync("b2", "requestRate", "value === 0");
            Assert.True(await page.ChartAsync("b1", "requestRate") > 0, "b1 should still take new sessions.");

            // No session was added to b2 after that: two session counts taken later agree, while the others grew.
            var (b2Sessions, countedAt) = await page.WaitForSessionCountAfterAsync("b2", zeroAt);
            var b1Sessions = (await page.WaitForSessionCountAfterAsync("b1", zeroAt)).Count;
            var (b2Later, _) = await page.WaitForSessionCountAfterAsync("b2", countedAt);
            await page.WaitForChartAsync("b1", "sessions", $"value > {b1Sessions}");
            Assert.Equal(b2Sessions, b2Later);

            Assert.True(await page.SameDocumentAsync(), "The page reloaded instead of updating live.");
            await page.Page.Locator("button[data-window='60']").ClickAsync(); // the last minute fills the charts
            await page.ScreenshotAsync("status-page-drain.png", docs: "status-page.png");
        }
        finally
        {
            await stop.CancelAsync();
            await traffic;
            await fixture.AdminAsync(HttpMethod.Delete, "/admin/pools/web/backends/b2/drain");
        }
    }

    [Fact]
    public async Task SetWeightFromThePage_ReachesTheAdminApi()
    {
        await using var page = await StatusPage.OpenAsync(fixture);
        try
        {
            await page.Row("b1").Locator("button[data-action=weight]").ClickAsync();
            await page.Dialog.Locator("input[name=weight]").FillAsync("7");
            await page.ConfirmAsync("Set weight");
            await page.WaitForAnswerAsync("PUT /admin/pools/web/backends/b1 → 200");

            Assert.Equal(7, (await fixture.BackendAsync("b1")).GetProperty("weight").GetInt32());
            await Assertions.Expect(page.Row("b1").Locator("td[data-field=weight]")).ToHaveTextAsync("7", new() { Timeout = WaitMs });
            Assert.False(await page.Dialog.IsVisibleAsync(), "The dialog closes after a successful change.");
        }
        finally
        {
            await fixture.AdminAsync(HttpMethod.Put, "/admin/pools/web/backends/b1", new { weight = 1 });
        }
    }

    [Fact]
    public async Task AddAndRemoveFromThePage_ShowTheApisAnswersIncludingAConflict()
    {
        await using var page = await StatusPage.OpenAsync(fixture);
        var address = fixture.Topology.Backends[2].Address.ToString(); // a real echo backend under a second id
        try
        {
            await page.Pool.Locator("button[data-action=add]").ClickAsync();
            await page.Dialog.Locator("input[name=id]").FillAsync("b1");
            await page.Dialog.Locator("input[name=address]").FillAsync(address);
            await page.ConfirmAsync("Add backend");

            // The conflict is shown where the operator is, and the dialog stays open to fix the input.
            await page.Dialog.Locator("#confirm-answer.failed", new() { HasTextString = "409" }).WaitForAsync(new() { Timeout = WaitMs });
            Assert.Contains("Backend 'b1' exists", await page.Dialog.Locator("#confirm-answer").InnerTextAsync(), StringComparison.Ordinal);
            await page.WaitForAnswerAsync("POST /admin/pools/web/backends → 409");

            await page.Dialog.Locator("input[name=id]").FillAsync("b9");
            await page.ConfirmAsync("Add backend");
            await page.WaitForAnswerAsync("POST /admin/pools/web/backends → 201");
            await page.Row("b9").WaitForAsync(new() { Timeout = WaitMs });

            await page.Row("b9").Locator("button[data-action=remove]").ClickAsync();
            await page.ConfirmAsync("Remove b9");
            await page.WaitForAnswerAsync("DELETE /admin/pools/web/backends/b9 → 204");
            await page.Row("b9").WaitForAsync(new() { State = WaitForSelectorState.Detached, Timeout = WaitMs });
            Assert.DoesNotContain(
                (await fixture.AdminJsonAsync(HttpMethod.Get, "/admin/pools/web/backends")).Body!.Value.EnumerateArray(),
                b => b.GetProperty("id").GetString() == "b9");
        }
        finally
        {
            await fixture.AdminJsonAsync(HttpMethod.Delete, "/admin/pools/web/backends/b9");
        }
    }

    [Fact]
    public async Task CancelOnThePage_ChangesNothing()
    {
        await using var page = await StatusPage.OpenAsync(fixture);
        await page.Row("b3").Locator("button[data-action=remove]").ClickAsync();
        await page.Dialog.Locator("button[value=cancel]").ClickAsync();
        await page.Dialog.WaitForAsync(new() { State = WaitForSelectorState.Hidden, Timeout = WaitMs });

        Assert.Equal("Active", (await fixture.BackendAsync("b3")).GetProperty("state").GetString());
        Assert.Equal(0, await page.Page.Locator("#answers li").CountAsync());
    }

    [Fact]
    public async Task UnpinFromThePage_TheSessionIsNoLongerPinned()
    {
        // A key with characters a URL must carry: '/', which the route takes as it is, and '%', which is escaped.
        var key = $"page/unpin%{Guid.NewGuid():N}";
        await fixture.SendAsync(key);
        var path = $"/admin/pools/web/sessions/{Uri.EscapeDataString(key).Replace("%2F", "/", StringComparison.Ordinal)}";
        Assert.Equal(HttpStatusCode.OK, (await fixture.AdminJsonAsync(HttpMethod.Get, path)).Status);

        await using var page = await StatusPage.OpenAsync(fixture);
        await page.Pool.Locator("button[data-action=unpin]").ClickAsync();
        await page.Dialog.Locator("input[name=key]").FillAsync(key);
        await page.ConfirmAsync("Unpin");
        await page.WaitForAnswerAsync($"DELETE {path} → 204");

        Assert.Equal(HttpStatusCode.NotFound, (await fixture.AdminJsonAsync(HttpMethod.Get, path)).Status);
    }

    // Requests for new sessions (a fresh key each), two at a time, until stopped; bounded in time and count.
    private async Task NewSessionsAsync(CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        for (var sent = 0; sent < 20_000 && clock.Elapsed < TimeSpan.FromMinutes(3) && !stop.IsCancellationRequested; sent++)
        {
            await fixture.SendAsync($"page-{Guid.NewGuid():N}");
        }
    }

    /// <summary>One browser on the status page, with the key in its fragment, and what the tests do there.</summary>
    private sealed class StatusPage : IAsyncDisposable
    {
        private const string Chromium = "/usr/bin/chromium";
        private readonly IPlaywright _playwright;
        private readonly IBrowser _browser;

        private StatusPage(IPlaywright playwright, IBrowser browser, IPage page)
        {
            _playwright = playwright;
            _browser = browser;
            Page = page;
        }

        public IPage Page { get; }

        public ILocator Pool => Page.Locator("section[data-pool=web]");

        public ILocator Dialog => Page.Locator("dialog#confirm");

        public static async Task<StatusPage> OpenAsync(ObservabilityTopologyFixture fixture)
        {
            Assert.True(File.Exists(Chromium), "chromium is not installed; ./test.sh installs it with apt-get install -y chromium.");
            var playwright = await Playwright.CreateAsync();
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 720 } });
            var statusPage = new StatusPage(playwright, browser, page);
            await page.GotoAsync(new Uri(fixture.Gateway.AdminAddress, $"/ui#key={fixture.Topology.AdminApiKey}").ToString());
            foreach (var backend in fixture.Topology.Backends)
            {
                await statusPage.Row(backend.Id).Locator(".badge.Active").WaitForAsync(new() { Timeout = WaitMs });
            }

            return statusPage;
        }

        public ILocator Row(string backend) => Pool.Locator($"tr[data-backend={backend}]");

        public async Task ConfirmAsync(string button)
        {
            var ok = Dialog.Locator("#confirm-ok");
            await ok.WaitForAsync(new() { Timeout = WaitMs });
            Assert.Equal(button, await ok.InnerTextAsync());
            await ok.ClickAsync();
        }

        public Task WaitForAnswerAsync(string text) =>
            Page.Locator("#answers li", new() { HasTextString = text }).First.WaitForAsync(new() { Timeout = WaitMs });

        /// <summary>The latest value a backend's chart shows (<c>null</c> for none).</summary>
        public async Task<double?> ChartAsync(string backend, string series) =>
            await Chart(backend, series).GetAttributeAsync("data-last") is { } last ? double.Parse(last, CultureInfo.InvariantCulture) : null;

        /// <summary>
        /// Waits until the latest point of a backend's chart satisfies <paramref name="condition"/> (JavaScript on
        /// <c>value</c> and <c>at</c>, its server time in Unix ms); returns that point.
        /// </summary>
        public async Task<(double Value, long At)> WaitForChartAsync(string backend, string series, string condition)
        {
            var handle = await Page.WaitForFunctionAsync(
                $$"""
                ([backend, series]) => {
                  const chart = document.querySelector(`section[data-pool=web] .charts div[data-backend="${backend}"] svg[data-series="${series}"]`);
                  if (!chart || !chart.hasAttribute("data-last")) return false;
                  const value = Number(chart.getAttribute("data-last"));
                  const at = Number(chart.getAttribute("data-last-at"));
                  return ({{condition}}) ? [value, at] : false;
                }
                """,
                new[] { backend, series },
                new() { Timeout = WaitMs });
            var point = await handle.JsonValueAsync<double[]>();
            return (point[0], (long)point[1]);
        }

        /// <summary>Waits for a session count of <paramref name="backend"/> taken after <paramref name="after"/> (server time, Unix ms).</summary>
        public async Task<(int Count, long At)> WaitForSessionCountAfterAsync(string backend, long after)
        {
            var (count, at) = await WaitForChartAsync(backend, "sessions", $"at > {after}");
            return ((int)count, at);
        }

        /// <summary>The id of the newest event the page's timeline shows (0 for none).</summary>
        public Task<long> LastEventIdAsync() => Page.EvaluateAsync<long>(
            "() => Math.max(0, ...[...document.querySelectorAll('section[data-pool=web] .timeline li[data-id]')].map(li => Number(li.dataset.id)))");

        /// <summary>
        /// Waits until the timeline shows an event of <paramref name="kind"/> on <paramref name="backend"/> newer than
        /// <paramref name="after"/> whose text satisfies <paramref name="condition"/> (JavaScript on <c>text</c>); returns its text.
        /// </summary>
        public async Task<string> WaitForEventAsync(string kind, string backend, long after, string condition)
        {
            var handle = await Page.WaitForFunctionAsync(
                $$"""
                ([kind, backend, after]) => {
                  for (const li of document.querySelectorAll(`section[data-pool=web] .timeline li[data-kind="${kind}"][data-backend="${backend}"]`)) {
                    const text = li.innerText;
                    if (Number(li.dataset.id) > Number(after) && ({{condition}})) return text;
                  }
                  return false;
                }
                """,
                new[] { kind, backend, after.ToString(CultureInfo.InvariantCulture) },
                new() { Timeout = WaitMs });
            return await handle.JsonValueAsync<string>();
        }

        /// <summary>Marks the document, so <see cref="SameDocumentAsync"/> tells whether it was reloaded since.</summary>
        public async Task MarkDocumentAsync() => await Page.EvaluateAsync("() => { window.__sameDocument = true; }");

        public Task<bool> SameDocumentAsync() => Page.EvaluateAsync<bool>("() => window.__sameDocument === true");

        /// <summary>A full-page screenshot in artifacts/; also in docs/ when <see cref="UpdateDocsScreenshot"/> is 1.</summary>
        public async Task ScreenshotAsync(string artifact, string docs)
        {
            var artifacts = Path.Combine(RepoPaths.Root, "artifacts");
            Directory.CreateDirectory(artifacts);
            var path = Path.Combine(artifacts, artifact);
            await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
            Assert.True(new FileInfo(path).Length > 0);
            if (Environment.GetEnvironmentVariable(UpdateDocsScreenshot) == "1")
            {
                File.Copy(path, Path.Combine(RepoPaths.Root, "docs", docs), overwrite: true);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _browser.DisposeAsync();
            _playwright.Dispose();
        }

        private ILocator Chart(string backend, string series) =>
            Pool.Locator($".charts div[data-backend={backend}] svg[data-series={series}]");
    }
}

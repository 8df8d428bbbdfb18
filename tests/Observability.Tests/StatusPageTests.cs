using Distributed.Topology;
using Microsoft.Playwright;

namespace Distributed.Observability.Tests;

[Trait("Category", "Observability")]
[Collection(ObservabilityTopology.Name)]
public sealed class StatusPageTests(ObservabilityTopologyFixture fixture)
{
    [Fact]
    public async Task StatusPage_ShowsEveryBackendAndADrainWithoutReload()
    {
        const string Chromium = "/usr/bin/chromium";
        Assert.True(File.Exists(Chromium), "chromium is not installed; ./test.sh installs it with apt-get install -y chromium.");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 720 } });
        await page.GotoAsync(new Uri(fixture.Gateway.AdminAddress, $"/ui#key={fixture.Topology.AdminApiKey}").ToString());

        var pool = page.Locator("section[data-pool=web]");
        foreach (var backend in fixture.Topology.Backends)
        {
            await pool.Locator($"tr[data-backend={backend.Id}][data-state=Active]").WaitForAsync(new LocatorWaitForOptions { Timeout = 15_000 });
        }

        // A marker that a reload would wipe out.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        await fixture.AdminAsync(HttpMethod.Post, "/admin/pools/web/backends/b2/drain");
        try
        {
            await pool.Locator("tr[data-backend=b2][data-state=Draining]").WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
            Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "The page reloaded instead of updating live.");
            Assert.Contains("left", await pool.Locator("tr[data-backend=b2]").InnerTextAsync(), StringComparison.Ordinal);

            var artifacts = Path.Combine(RepoPaths.Root, "artifacts");
            Directory.CreateDirectory(artifacts);
            var screenshot = Path.Combine(artifacts, "status-page-drain.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
            Assert.True(new FileInfo(screenshot).Length > 0);
        }
        finally
        {
            await fixture.AdminAsync(HttpMethod.Delete, "/admin/pools/web/backends/b2/drain");
        }
    }
}

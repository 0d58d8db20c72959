using Microsoft.Playwright;

namespace CimAspire.Tests.Web.Browser;

/// <summary>
/// Debian's Chromium driven by Playwright (never Playwright's own browser download). The path can be changed with
/// the environment variable <c>CIM_CHROMIUM</c>.
/// </summary>
internal static class Chromium
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("CIM_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        // Expectations retry until this long (Playwright's default of 5 s is short on a busy two-core machine).
        Assertions.SetDefaultExpectTimeout((float)Timeout.TotalMilliseconds);
        var playwright = await Playwright.CreateAsync().WaitAsync(Timeout);
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args =
                [
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
                Timeout = (float)Timeout.TotalMilliseconds,
            }).WaitAsync(Timeout);
            return (playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A page in a fresh context (its own cookies, so its own Blazor circuit and IM session).</summary>
    public static async Task<IPage> NewPageAsync(IBrowser browser, string baseUrl, int width = 1200, int height = 800)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = "en-US",
            TimezoneId = "UTC",
        }).WaitAsync(Timeout);
        context.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        context.SetDefaultNavigationTimeout((float)Timeout.TotalMilliseconds);
        return await context.NewPageAsync().WaitAsync(Timeout);
    }

    /// <summary>Where screenshots of test runs go: <c>screenshots/</c> under the test output folder.</summary>
    public static string ScreenshotPath(string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }
}

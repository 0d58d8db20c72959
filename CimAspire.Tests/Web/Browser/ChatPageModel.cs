using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace CimAspire.Tests.Web.Browser;

/// <summary>One person using the web client in a browser context of their own: the steps tests repeat.</summary>
internal sealed partial class ChatPageModel(IPage page, string userName)
{
    public const string Password = "correct-horse-battery";
    // Longer than Playwright's own timeouts, so a failure reports what Playwright waited for.
    private static readonly TimeSpan Timeout = Chromium.Timeout + TimeSpan.FromSeconds(10);

    public IPage Page { get; } = page;

    public string UserName { get; } = userName;

    public ILocator Messages => Page.GetByTestId("message-list").GetByTestId("message");

    public ILocator Banner => Page.GetByTestId("connection-banner");

    public static string NewUserName(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 10, 32)];

    public static async Task<ChatPageModel> SignUpAsync(IBrowser browser, string baseUrl, string userName, int width = 1200, int height = 800)
    {
        var page = await Chromium.NewPageAsync(browser, baseUrl, width, height);
        await page.GotoAsync("signup").WaitAsync(Timeout);
        await page.GetByTestId("signup-username").FillAsync(userName).WaitAsync(Timeout);
        await page.GetByTestId("signup-password").FillAsync(Password).WaitAsync(Timeout);
        await page.GetByTestId("signup-confirm").FillAsync(Password).WaitAsync(Timeout);
        await page.GetByTestId("signup-submit").ClickAsync().WaitAsync(Timeout);
        var model = new ChatPageModel(page, userName);
        await model.WaitForChatAsync();
        return model;
    }

    public static async Task<ChatPageModel> SignInAsync(IBrowser browser, string baseUrl, string userName)
    {
        var page = await Chromium.NewPageAsync(browser, baseUrl);
        await page.GotoAsync("signin").WaitAsync(Timeout);
        await page.GetByTestId("signin-username").FillAsync(userName).WaitAsync(Timeout);
        await page.GetByTestId("signin-password").FillAsync(Password).WaitAsync(Timeout);
        await page.GetByTestId("signin-submit").ClickAsync().WaitAsync(Timeout);
        var model = new ChatPageModel(page, userName);
        await model.WaitForChatAsync();
        return model;
    }

    private async Task WaitForChatAsync()
    {
        var chat = Page.GetByTestId("chat-page");
        var error = Page.GetByTestId("signup-error").Or(Page.GetByTestId("signin-error"));
        await Expect(chat.Or(error)).ToBeVisibleAsync().WaitAsync(Timeout);
        if (await error.IsVisibleAsync())
        {
            throw new InvalidOperationException($"Signing in {UserName} failed: {await error.TextContentAsync()}");
        }

        await Expect(Page.GetByTestId("current-user")).ToHaveTextAsync(UserName).WaitAsync(Timeout);
    }

    public async Task<long> UserIdAsync() =>
        long.Parse((await Page.GetByTestId("current-user").GetAttributeAsync("data-user-id").WaitAsync(Timeout))!, System.Globalization.CultureInfo.InvariantCulture);

    public async Task<string> ServerIdAsync() =>
        (await Page.GetByTestId("current-user").GetAttributeAsync("data-server-id").WaitAsync(Timeout)) ?? "";

    /// <summary>Finds another user by name and opens the conversation with them.</summary>
    public async Task OpenChatWithAsync(string otherUserName)
    {
        await Page.GetByTestId("user-search-input").FillAsync(otherUserName).WaitAsync(Timeout);
        await Page.GetByTestId("user-search-submit").ClickAsync().WaitAsync(Timeout);
        await Page.Locator($"[data-testid=search-result][data-user-name='{otherUserName}']").ClickAsync().WaitAsync(Timeout);
        await Expect(Page.GetByTestId("conversation-view").GetByTestId("conversation-title")).ToHaveTextAsync(otherUserName).WaitAsync(Timeout);
    }

    public async Task OpenConversationAsync(string conversationId)
    {
        await Page.Locator($"[data-testid=conversation][data-conversation-id='{conversationId}']").ClickAsync().WaitAsync(Timeout);
        await Expect(Page.GetByTestId("conversation-view")).ToHaveAttributeAsync("data-conversation-id", conversationId).WaitAsync(Timeout);
    }

    public ILocator Conversation(string conversationId) =>
        Page.Locator($"[data-testid=conversation][data-conversation-id='{conversationId}']");

    /// <summary>Types a message and presses Enter, then waits until the server stored it.</summary>
    public async Task SendAsync(string text)
    {
        var input = Page.GetByTestId("composer-input");
        // Until the composer's script is attached, Enter would only add a new line.
        await Expect(input).ToHaveAttributeAsync("data-keyboard", "attached").WaitAsync(Timeout);
        await input.FillAsync(text).WaitAsync(Timeout);
        await input.PressAsync("Enter").WaitAsync(Timeout);
        var mine = Page.Locator("[data-testid=message][data-mine=true]").Filter(new() { HasText = text }).Last;
        await Expect(mine.GetByTestId("message-status")).Not.ToHaveAttributeAsync("data-status", new Regex("^(Sending|Failed)$")).WaitAsync(Timeout);
    }

    public ILocator Message(string text) =>
        Page.GetByTestId("message-list").GetByTestId("message").Filter(new() { Has = Page.GetByTestId("message-text").GetByText(text, new() { Exact = true }) });

    /// <summary>The group number shown in an open group's header ("Group #12").</summary>
    public async Task<long> OpenGroupIdAsync()
    {
        var subtitle = await Page.GetByTestId("conversation-subtitle").TextContentAsync().WaitAsync(Timeout) ?? "";
        var match = GroupNumber().Match(subtitle);
        Assert.True(match.Success, $"no group number in '{subtitle}'");
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"#(\d+)")]
    private static partial Regex GroupNumber();
}

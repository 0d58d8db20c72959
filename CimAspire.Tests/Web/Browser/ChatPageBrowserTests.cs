using System.Text.RegularExpressions;
using CimAspire.Protocol;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace CimAspire.Tests.Web.Browser;

/// <summary>The page's own behaviour in a real browser (scripts, scrolling, layout) over a fake IM session.</summary>
public sealed class ChatPageBrowserTests(FakeWebHost host) : IClassFixture<FakeWebHost>
{
    // Longer than Playwright's own timeouts, so a failure reports what Playwright waited for.
    private static readonly TimeSpan Timeout = Chromium.Timeout + TimeSpan.FromSeconds(10);

    private static string Bob => ConversationIds.ForUsers(1, 2);

    private async Task<(IPage Page, FakeChatConnection Connection)> SignInAsync(int width = 1200, int height = 800, Action<FakeChatConnection>? prepare = null)
    {
        var connection = new FakeChatConnection(userId: 1, userName: "alice");
        connection.Online.Add(new PresenceDto(2, "bob", true, "s1", null));
        prepare?.Invoke(connection);
        host.NextConnections.Enqueue(connection);
        var page = await Chromium.NewPageAsync(host.Browser, host.BaseUrl, width, height);
        await page.GotoAsync("signin").WaitAsync(Timeout);
        await page.GetByTestId("signin-username").FillAsync("alice").WaitAsync(Timeout);
        await page.GetByTestId("signin-password").FillAsync("secret").WaitAsync(Timeout);
        await page.GetByTestId("signin-submit").ClickAsync().WaitAsync(Timeout);
        await Expect(page.GetByTestId("chat-page")).ToBeVisibleAsync().WaitAsync(Timeout);
        return (page, connection);
    }

    [Fact]
    public async Task Enter_sends_and_shift_enter_starts_a_new_line()
    {
        var (page, connection) = await SignInAsync();
        await page.GetByTestId("online-user").First.ClickAsync().WaitAsync(Timeout);
        var input = page.GetByTestId("composer-input");

        await input.PressSequentiallyAsync("first line").WaitAsync(Timeout);
        await input.PressAsync("Shift+Enter").WaitAsync(Timeout);
        await input.PressSequentiallyAsync("second line :tada:").WaitAsync(Timeout);
        await input.PressAsync("Enter").WaitAsync(Timeout);

        var message = page.GetByTestId("message").Last;
        await Expect(message.GetByTestId("message-text")).ToHaveTextAsync("first line\nsecond line \U0001F389").WaitAsync(Timeout);
        await Expect(message.GetByTestId("message-status")).ToHaveAttributeAsync("data-status", "Sent").WaitAsync(Timeout);
        await Expect(input).ToHaveValueAsync("").WaitAsync(Timeout);
        Assert.True(connection.Sends.TryPeek(out var send));
        Assert.Equal("first line\nsecond line :tada:", send.Text);
        Assert.Equal(2, send.To.UserId);
        await page.ScreenshotAsync(new() { Path = Chromium.ScreenshotPath("chat-fake-session.png") }).WaitAsync(Timeout);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Scrolling_back_loads_older_messages_and_new_ones_do_not_pull_the_view_down()
    {
        var (page, connection) = await SignInAsync(prepare: c =>
        {
            for (var i = 1; i <= 120; i++)
            {
                c.Store(Bob, 2, "bob", $"message {i}", new Target { UserId = 1 });
            }
        });
        await page.GetByTestId("online-user").First.ClickAsync().WaitAsync(Timeout);
        var messages = page.GetByTestId("message");
        await Expect(messages).ToHaveCountAsync(50).WaitAsync(Timeout);
        var list = page.GetByTestId("message-list");
        await Expect(messages.Last).ToBeInViewportAsync().WaitAsync(Timeout);

        await list.EvaluateAsync("l => l.scrollTop = 0").WaitAsync(Timeout);

        await Expect(messages).ToHaveCountAsync(100).WaitAsync(Timeout);
        // The view stays on what the user was reading instead of jumping to the newly loaded top.
        await Expect(page.GetByText("message 71", new() { Exact = true })).ToBeInViewportAsync().WaitAsync(Timeout);

        connection.DeliverFrom(2, "bob", "while you read");
        await Expect(messages.Last.GetByTestId("message-text")).ToHaveTextAsync("while you read").WaitAsync(Timeout);
        await Expect(messages.Last).Not.ToBeInViewportAsync().WaitAsync(Timeout);

        await list.EvaluateAsync("l => l.scrollTop = l.scrollHeight").WaitAsync(Timeout);
        connection.DeliverFrom(2, "bob", "at the bottom now");
        await Expect(messages.Last.GetByTestId("message-text")).ToHaveTextAsync("at the bottom now").WaitAsync(Timeout);
        await Expect(messages.Last).ToBeInViewportAsync().WaitAsync(Timeout);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Long_messages_wrap_and_a_phone_shows_the_list_or_the_conversation()
    {
        var (page, connection) = await SignInAsync(width: 375, height: 720);
        var list = page.GetByTestId("conversation-list");
        await Expect(list).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(page.GetByTestId("conversation-view")).Not.ToBeVisibleAsync().WaitAsync(Timeout);

        await page.GetByTestId("online-user").First.ClickAsync().WaitAsync(Timeout);
        await Expect(page.GetByTestId("conversation-view")).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(list).Not.ToBeVisibleAsync().WaitAsync(Timeout);

        connection.DeliverFrom(2, "bob", new string('w', 600) + " " + string.Join(' ', Enumerable.Repeat("wrap", 80)));
        var text = page.GetByTestId("message-text").Last;
        await Expect(text).ToBeVisibleAsync().WaitAsync(Timeout);
        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth").WaitAsync(Timeout);
        Assert.Equal(0, overflow);
        var box = await text.BoundingBoxAsync().WaitAsync(Timeout);
        Assert.NotNull(box);
        Assert.True(box.Width <= 375, $"the message is {box.Width}px wide on a 375px screen");
        await page.ScreenshotAsync(new() { Path = Chromium.ScreenshotPath("chat-phone.png") }).WaitAsync(Timeout);

        await page.GetByTestId("back-to-list").ClickAsync().WaitAsync(Timeout);
        await Expect(list).ToBeVisibleAsync().WaitAsync(Timeout);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_wrong_password_shows_the_reason_on_the_sign_in_page()
    {
        var connection = new FakeChatConnection { LoginError = new CimAspire.WebClient.Chat.ChatRequestException("Invalid credentials", 401) };
        host.NextConnections.Enqueue(connection);
        var page = await Chromium.NewPageAsync(host.Browser, host.BaseUrl);
        await page.GotoAsync("").WaitAsync(Timeout);
        await Expect(page).ToHaveURLAsync(new Regex("/signin$")).WaitAsync(Timeout);

        await page.GetByTestId("signin-username").FillAsync("alice").WaitAsync(Timeout);
        await page.GetByTestId("signin-password").FillAsync("wrong").WaitAsync(Timeout);
        await page.GetByTestId("signin-password").PressAsync("Enter").WaitAsync(Timeout);

        await Expect(page.GetByTestId("signin-error")).ToHaveTextAsync("Wrong user name or password.").WaitAsync(Timeout);
        await page.ScreenshotAsync(new() { Path = Chromium.ScreenshotPath("signin-error.png") }).WaitAsync(Timeout);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_chat_page_shows_receipts_unread_counts_typing_and_presence_together()
    {
        var (page, connection) = await SignInAsync(prepare: c =>
        {
            c.Online.Add(new PresenceDto(3, "carol", true, "s2", null));
            c.Online.Add(new PresenceDto(4, "dave", true, "s1", null));
            c.Groups.Add(new GroupDto(7, "weekend trip", 3, 4));
            var toBob = new Target { UserId = 2 };
            var toAlice = new Target { UserId = 1 };
            c.Store(Bob, 2, "bob", "Morning! Did you see the release notes?", toAlice);
            c.Store(Bob, 1, "alice", "Yes, the web client is in. Chatting from the browser now.", toBob);
            c.Store(Bob, 2, "bob", "Nice. Does it survive a server restart?", toAlice);
            c.Store(Bob, 1, "alice", "It reconnects by itself and fetches whatever it missed.\nNothing gets lost.", toBob);
            c.Store(Bob, 1, "alice", "Try it: <b>markup</b> stays text.", toBob);
            var trip = ConversationIds.ForGroup(7);
            var toTrip = new Target { GroupId = 7 };
            c.Store(trip, 3, "carol", "Train at 8?", toTrip);
            var last = c.Store(trip, 4, "dave", "Works for me", toTrip);
            c.Conversations.Add(new ConversationDto(Bob, 2, null, "bob", 5, 5, 0, c.History[Bob][^1]));
            c.Conversations.Add(new ConversationDto(trip, null, 7, "weekend trip", last.Seq, 0, 2, c.History[trip][^1]));
        });
        await Expect(page.Locator("[data-conversation-id=g7] [data-testid=unread-count]")).ToHaveTextAsync("2").WaitAsync(Timeout);
        await page.Locator($"[data-testid=conversation][data-conversation-id={Bob}]").ClickAsync().WaitAsync(Timeout);
        await Expect(page.GetByTestId("message")).ToHaveCountAsync(5).WaitAsync(Timeout);

        connection.RaiseReceipt(Bob, 2, Receipt.Types.Kind.Read, 4);
        connection.RaiseReceipt(Bob, 2, Receipt.Types.Kind.Delivered, 5);
        connection.RaiseTyping(2, new Target { UserId = 1 }, true);

        var statuses = page.Locator("[data-mine=true] [data-testid=message-status]");
        await Expect(statuses).ToHaveTextAsync(["✓✓ Read", "✓✓ Read", "✓✓ Delivered"]).WaitAsync(Timeout);
        await Expect(page.GetByTestId("typing-indicator")).ToHaveTextAsync("bob is typing…").WaitAsync(Timeout);
        await Expect(page.GetByTestId("online-user")).ToHaveCountAsync(3).WaitAsync(Timeout);
        await Expect(page.GetByTestId("message-text").Last).ToHaveTextAsync("Try it: <b>markup</b> stays text.").WaitAsync(Timeout);
        await page.ScreenshotAsync(new() { Path = Chromium.ScreenshotPath("chat-page-fake-session.png") }).WaitAsync(Timeout);
        await page.Context.CloseAsync();
    }
}

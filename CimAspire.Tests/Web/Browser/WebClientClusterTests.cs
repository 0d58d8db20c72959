using System.Globalization;
using Aspire.Hosting.Testing;
using CimAspire.Client;
using CimAspire.Protocol;
using CimAspire.Tests.Cluster;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace CimAspire.Tests.Web.Browser;

/// <summary>People chatting through the web client in Chromium, against the whole graph the cluster fixture runs.</summary>
[Collection("cluster")]
public sealed class WebClientClusterTests(ClusterFixture cluster, ChromiumFixture chromium, ITestOutputHelper output)
    : IClassFixture<ChromiumFixture>
{
    // Longer than Playwright's own timeouts, so a failure reports what Playwright waited for.
    private static readonly TimeSpan Timeout = Chromium.Timeout + TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(60);

    private string BaseUrl => cluster.App.GetEndpoint("web-client", "http").ToString();

    private Task<ChatPageModel> SignUpAsync(string prefix, int width = 1200, int height = 800) =>
        ChatPageModel.SignUpAsync(chromium.Browser, BaseUrl, ChatPageModel.NewUserName(prefix), width, height);

    [Fact]
    public async Task Two_people_chat_live_and_the_sender_sees_delivered_then_read()
    {
        var ann = await SignUpAsync("ann");
        var ben = await SignUpAsync("ben");
        var conversationId = ConversationIds.ForUsers(await ann.UserIdAsync(), await ben.UserIdAsync());

        await ann.OpenChatWithAsync(ben.UserName);
        await ann.SendAsync("Hi Ben, lunch at noon?");

        // Ben has another conversation open: the message shows in his list, unread, and is acknowledged as delivered.
        await Expect(ben.Conversation(conversationId).GetByTestId("unread-count")).ToHaveTextAsync("1").WaitAsync(Timeout);
        await Expect(ben.Conversation(conversationId).GetByTestId("conversation-preview")).ToHaveTextAsync("Hi Ben, lunch at noon?").WaitAsync(Timeout);
        var sent = ann.Message("Hi Ben, lunch at noon?").GetByTestId("message-status");
        await Expect(sent).ToHaveAttributeAsync("data-status", "Delivered").WaitAsync(Timeout);

        await ben.OpenConversationAsync(conversationId);
        await Expect(ben.Message("Hi Ben, lunch at noon?")).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(sent).ToHaveAttributeAsync("data-status", "Read").WaitAsync(Timeout);

        // While both have the conversation open, replies appear live on the other side.
        await ben.SendAsync("Sure, see you there.\nI'll book a table.");
        await Expect(ann.Message("Sure, see you there.\nI'll book a table.")).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(ben.Message("Sure, see you there.\nI'll book a table.").GetByTestId("message-status"))
            .ToHaveAttributeAsync("data-status", "Read").WaitAsync(Timeout);
        await ann.SendAsync("Great, thanks!");

        await ann.Page.ScreenshotAsync(new() { Path = Chromium.ScreenshotPath("chat.png") }).WaitAsync(Timeout);
        output.WriteLine($"Screenshot: {Chromium.ScreenshotPath("chat.png")}");
        await CloseAsync(ann, ben);
    }

    [Fact]
    public async Task Typing_shows_on_the_other_side_and_markup_shows_as_text()
    {
        var ann = await SignUpAsync("ann");
        var ben = await SignUpAsync("ben");
        await ann.OpenChatWithAsync(ben.UserName);
        await ben.OpenChatWithAsync(ann.UserName);

        await ben.Page.GetByTestId("composer-input").PressSequentiallyAsync("typing something").WaitAsync(Timeout);
        await Expect(ann.Page.GetByTestId("typing-indicator")).ToHaveTextAsync($"{ben.UserName} is typing…").WaitAsync(Timeout);

        const string markup = "<script>window.__injected = true</script><img src=x onerror=\"window.__injected = true\"> <b>not bold</b>";
        await ben.SendAsync(markup);
        await Expect(ann.Page.GetByTestId("typing-indicator")).ToHaveTextAsync("").WaitAsync(Timeout);

        await Expect(ann.Message(markup)).ToBeVisibleAsync().WaitAsync(Timeout);
        Assert.Equal(0, await ann.Page.Locator("[data-testid=message-list] script, [data-testid=message-list] img, [data-testid=message-list] b").CountAsync().WaitAsync(Timeout));
        Assert.False(await ann.Page.EvaluateAsync<bool>("() => window.__injected === true").WaitAsync(Timeout));
        await CloseAsync(ann, ben);
    }

    [Fact]
    public async Task A_group_of_three_chats()
    {
        var ann = await SignUpAsync("ann");
        var ben = await SignUpAsync("ben");
        var cat = await SignUpAsync("cat");

        var groupName = $"trip-{Guid.NewGuid():N}"[..12];
        await ann.Page.GetByTestId("group-name-input").FillAsync(groupName).WaitAsync(Timeout);
        await ann.Page.GetByTestId("group-create").ClickAsync().WaitAsync(Timeout);
        await Expect(ann.Page.GetByTestId("conversation-view").GetByTestId("conversation-title")).ToHaveTextAsync(groupName).WaitAsync(Timeout);
        var groupId = await ann.OpenGroupIdAsync();
        var conversationId = ConversationIds.ForGroup(groupId);

        foreach (var member in new[] { ben, cat })
        {
            await member.Page.GetByTestId("group-id-input").FillAsync(groupId.ToString(CultureInfo.InvariantCulture)).WaitAsync(Timeout);
            await member.Page.GetByTestId("group-join").ClickAsync().WaitAsync(Timeout);
            await Expect(member.Page.GetByTestId("conversation-view")).ToHaveAttributeAsync("data-conversation-id", conversationId).WaitAsync(Timeout);
        }

        await ann.SendAsync("Who is in for the trip?");
        await Expect(ben.Message("Who is in for the trip?")).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(cat.Message("Who is in for the trip?")).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(ben.Message("Who is in for the trip?").GetByTestId("message-sender")).ToHaveTextAsync(ann.UserName).WaitAsync(Timeout);

        await cat.SendAsync("Me!");
        await Expect(ann.Message("Me!")).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(ben.Message("Me!")).ToBeVisibleAsync().WaitAsync(Timeout);
        // Both other members have the group open, so both read it: the sender sees how many did.
        var tripStatus = ann.Message("Who is in for the trip?").GetByTestId("message-status");
        await Expect(tripStatus).ToHaveAttributeAsync("data-status", "Read").WaitAsync(Timeout);
        await Expect(tripStatus).ToHaveTextAsync("✓✓ Read by 2").WaitAsync(Timeout);

        await ben.Page.GetByTestId("toggle-members").ClickAsync().WaitAsync(Timeout);
        await Expect(ben.Page.GetByTestId("member")).ToHaveCountAsync(3).WaitAsync(Timeout);

        await cat.Page.GetByTestId("leave-group").ClickAsync().WaitAsync(Timeout);
        await Expect(cat.Conversation(conversationId)).ToHaveCountAsync(0).WaitAsync(Timeout);
        await ben.Page.GetByTestId("toggle-members").ClickAsync().WaitAsync(Timeout);
        await ben.Page.GetByTestId("toggle-members").ClickAsync().WaitAsync(Timeout);
        await Expect(ben.Page.GetByTestId("member")).ToHaveCountAsync(2).WaitAsync(Timeout);
        await CloseAsync(ann, ben, cat);
    }

    [Fact]
    public async Task After_a_reload_the_page_is_still_signed_in_with_its_history_and_sends_until_signing_out()
    {
        var ann = await SignUpAsync("ann");
        var ben = await SignUpAsync("ben");
        var conversationId = ConversationIds.ForUsers(await ann.UserIdAsync(), await ben.UserIdAsync());
        await ann.OpenChatWithAsync(ben.UserName);
        await ben.OpenChatWithAsync(ann.UserName);
        await ann.SendAsync("before the reload");
        await Expect(ben.Message("before the reload")).ToBeVisibleAsync().WaitAsync(Timeout);

        await ann.Page.ReloadAsync().WaitAsync(Timeout);

        await Expect(ann.Page.GetByTestId("current-user")).ToHaveTextAsync(ann.UserName).WaitAsync(Timeout);
        await Expect(ann.Page.GetByTestId("signin-form")).ToHaveCountAsync(0).WaitAsync(Timeout);
        await ann.OpenConversationAsync(conversationId);
        await Expect(ann.Message("before the reload")).ToBeVisibleAsync().WaitAsync(Timeout);
        await ann.SendAsync("after the reload");
        await Expect(ben.Message("after the reload")).ToBeVisibleAsync().WaitAsync(Timeout);
        await ben.SendAsync("welcome back");
        await Expect(ann.Message("welcome back")).ToBeVisibleAsync().WaitAsync(Timeout);

        // Signing out ends the session for good: the next reload asks to sign in.
        await ann.Page.GetByTestId("sign-out").ClickAsync().WaitAsync(Timeout);
        await Expect(ann.Page.GetByTestId("signin-form")).ToBeVisibleAsync().WaitAsync(Timeout);
        await ann.Page.GotoAsync("chat").WaitAsync(Timeout);
        await Expect(ann.Page.GetByTestId("signin-form")).ToBeVisibleAsync().WaitAsync(Timeout);
        await CloseAsync(ann, ben);
    }

    [Fact]
    public async Task Online_now_shows_someone_signing_in_and_out_live_without_a_reload()
    {
        var ann = await SignUpAsync("ann");
        // Gone after any reload or navigation: proves the list changed in the page as it was.
        await ann.Page.EvaluateAsync("() => { window.presenceProbe = 42; }").WaitAsync(Timeout);
        var ben = await SignUpAsync("ben");
        var benListed = ann.Page.Locator($"[data-testid=online-user][data-user-name='{ben.UserName}']");

        await Expect(benListed).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(benListed).ToHaveAttributeAsync("data-user-id", (await ben.UserIdAsync()).ToString(CultureInfo.InvariantCulture)).WaitAsync(Timeout);

        await ben.Page.GetByTestId("sign-out").ClickAsync().WaitAsync(Timeout);
        await Expect(ben.Page.GetByTestId("signin-form")).ToBeVisibleAsync().WaitAsync(Timeout);
        await Expect(benListed).ToHaveCountAsync(0).WaitAsync(Timeout);

        Assert.Equal(42, await ann.Page.EvaluateAsync<int>("() => window.presenceProbe ?? 0").WaitAsync(Timeout));
        await CloseAsync(ann, ben);
    }

    [Fact]
    public async Task Someone_who_was_offline_signs_in_and_finds_the_messages_sent_meanwhile()
    {
        var ann = await SignUpAsync("ann");
        var ben = await SignUpAsync("ben");
        var conversationId = ConversationIds.ForUsers(await ann.UserIdAsync(), await ben.UserIdAsync());
        await ben.Page.GetByTestId("sign-out").ClickAsync().WaitAsync(Timeout);
        await Expect(ben.Page.GetByTestId("signin-form")).ToBeVisibleAsync().WaitAsync(Timeout);
        await ben.Page.Context.CloseAsync();

        await ann.OpenChatWithAsync(ben.UserName);
        await Expect(ann.Page.GetByTestId("conversation-subtitle")).ToHaveTextAsync("offline").WaitAsync(Timeout);
        foreach (var text in new[] { "You there?", "Call me when you're back.", "It's about the trip." })
        {
            await ann.SendAsync(text);
            await Expect(ann.Message(text).GetByTestId("message-status")).ToHaveAttributeAsync("data-status", "Sent").WaitAsync(Timeout);
        }

        var back = await ChatPageModel.SignInAsync(chromium.Browser, BaseUrl, ben.UserName);
        await Expect(back.Conversation(conversationId).GetByTestId("unread-count")).ToHaveTextAsync("3").WaitAsync(Timeout);
        await back.OpenConversationAsync(conversationId);
        await Expect(back.Messages).ToHaveCountAsync(3).WaitAsync(Timeout);
        await Expect(back.Page.GetByTestId("message-text")).ToHaveTextAsync(["You there?", "Call me when you're back.", "It's about the trip."]).WaitAsync(Timeout);
        await Expect(ann.Message("It's about the trip.").GetByTestId("message-status")).ToHaveAttributeAsync("data-status", "Read").WaitAsync(Timeout);
        await CloseAsync(ann, back);
    }

    [Fact]
    public async Task History_pages_in_when_scrolling_back()
    {
        var ben = await SignUpAsync("ben");
        var annName = ChatPageModel.NewUserName("ann");
        const int Count = 75;
        long annId;
        await using (var ann = await NewSdkClientAsync(annName, register: true))
        {
            annId = ann.Client.UserId;
            var to = new Target { UserId = await ben.UserIdAsync() };
            for (var i = 1; i <= Count; i++)
            {
                await ann.SendAsync(to, $"history {i}").WaitAsync(Timeout);
            }
        }

        // Ben's device receives (and acknowledges) them all; a later session starts from history, not from a replay.
        var conversationId = ConversationIds.ForUsers(annId, await ben.UserIdAsync());
        await Expect(ben.Conversation(conversationId).GetByTestId("unread-count")).ToHaveTextAsync($"{Count}").WaitAsync(Timeout);
        await ben.Page.GetByTestId("sign-out").ClickAsync().WaitAsync(Timeout);
        await Expect(ben.Page.GetByTestId("signin-form")).ToBeVisibleAsync().WaitAsync(Timeout);
        await ben.Page.Context.CloseAsync();
        var back = await ChatPageModel.SignInAsync(chromium.Browser, BaseUrl, ben.UserName);

        await back.OpenConversationAsync(conversationId);
        await Expect(back.Messages).ToHaveCountAsync(50).WaitAsync(Timeout);
        await Expect(back.Messages.Last.GetByTestId("message-text")).ToHaveTextAsync($"history {Count}").WaitAsync(Timeout);

        await back.Page.GetByTestId("message-list").EvaluateAsync("l => l.scrollTop = 0").WaitAsync(Timeout);

        await Expect(back.Messages).ToHaveCountAsync(Count).WaitAsync(Timeout);
        await Expect(back.Messages.First.GetByTestId("message-text")).ToHaveTextAsync("history 1").WaitAsync(Timeout);
        await Expect(back.Page.GetByTestId("load-older")).ToHaveCountAsync(0).WaitAsync(Timeout);
        await CloseAsync(back);
    }

    [Fact]
    public async Task When_the_im_server_holding_a_user_dies_the_page_reconnects_and_nothing_is_lost()
    {
        var ann = await SignUpAsync("ann");
        var ben = await SignUpAsync("ben");
        var benId = await ben.UserIdAsync();
        await ann.OpenChatWithAsync(ben.UserName);
        await ben.OpenChatWithAsync(ann.UserName);
        await ann.SendAsync("before the crash");
        await Expect(ben.Message("before the crash")).ToBeVisibleAsync().WaitAsync(Timeout);

        // Record every state the banner shows: the outage may be shorter than one poll of the test.
        await ben.Page.EvaluateAsync("""
            () => {
                window.__bannerStates = [];
                new MutationObserver(() => {
                    const banner = document.querySelector('[data-testid=connection-banner]');
                    const state = banner ? banner.dataset.state : 'Online';
                    if (window.__bannerStates.at(-1) !== state) window.__bannerStates.push(state);
                }).observe(document.body, { subtree: true, childList: true, attributes: true });
            }
            """).WaitAsync(Timeout);
        var serverBefore = await ben.ServerIdAsync();
        var replica = cluster.FindImServerReplica(serverBefore);
        output.WriteLine($"ben ({benId}) is on {serverBefore}, replica {replica.ResourceName}; killing it");

        await cluster.KillReplicaAsync(replica.ResourceName).WaitAsync(RecoveryTimeout);
        try
        {
            // Sent while ben's connection is down (if ann was on the same server, her send waits for her own reconnect).
            await ann.SendAsync("during the outage 1");
            await ann.SendAsync("during the outage 2");

            await Expect(ben.Message("during the outage 2")).ToBeVisibleAsync(new() { Timeout = (float)RecoveryTimeout.TotalMilliseconds }).WaitAsync(RecoveryTimeout);
            await Expect(ben.Banner).ToHaveCountAsync(0, new() { Timeout = (float)RecoveryTimeout.TotalMilliseconds }).WaitAsync(RecoveryTimeout);
            var states = await ben.Page.EvaluateAsync<string[]>("() => window.__bannerStates").WaitAsync(Timeout);
            output.WriteLine($"banner states: {string.Join(" -> ", states)}");
            Assert.Contains("Reconnecting", states);
            Assert.NotEqual(serverBefore, await ben.ServerIdAsync());

            await Expect(ben.Page.GetByTestId("message-text")).ToHaveTextAsync(["before the crash", "during the outage 1", "during the outage 2"]).WaitAsync(Timeout);
            await ben.SendAsync("back again");
            await Expect(ann.Message("back again")).ToBeVisibleAsync().WaitAsync(RecoveryTimeout);
            await Expect(ann.Page.GetByTestId("message-text")).ToHaveTextAsync(["before the crash", "during the outage 1", "during the outage 2", "back again"]).WaitAsync(Timeout);
        }
        finally
        {
            await cluster.StartReplicaAsync(replica.ResourceName).WaitAsync(RecoveryTimeout);
        }

        await CloseAsync(ann, ben);
    }

    private async Task<SdkUser> NewSdkClientAsync(string userName, bool register)
    {
        var http = cluster.CreateRouteClient();
        var client = new CimClient(new CimClientOptions { RouteApi = http.BaseAddress!, ClientName = "web-tests" }, http);
        var user = new SdkUser(client, http);
        try
        {
            if (register)
            {
                await client.RegisterAsync(userName, ChatPageModel.Password).WaitAsync(Timeout);
            }

            await client.LoginAsync(userName, ChatPageModel.Password).WaitAsync(Timeout);
            return user;
        }
        catch
        {
            await user.DisposeAsync();
            throw;
        }
    }

    /// <summary>A user driven through the SDK instead of a browser, where many messages are needed quickly.</summary>
    private sealed record SdkUser(CimClient Client, HttpClient Http) : IAsyncDisposable
    {
        public Task<SendResult> SendAsync(Target to, string text) => Client.SendAsync(to, text);

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync().AsTask().WaitAsync(Timeout);
            Http.Dispose();
        }
    }

    private static async Task CloseAsync(params ChatPageModel[] people)
    {
        foreach (var person in people)
        {
            await person.Page.Context.CloseAsync().WaitAsync(Timeout);
        }
    }
}

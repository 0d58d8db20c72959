using Bunit;
using Bunit.TestDoubles;
using CimAspire.Protocol;
using CimAspire.WebClient.Chat;
using CimAspire.WebClient.Components.Pages.Account;
using CimAspire.WebClient.Components.Pages.Chat;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Server.ProtectedBrowserStorage;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CimAspire.Tests.Web;

public sealed class ChatComponentsTests : BunitContext
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly FakeChatConnection _connection = new(userId: 1, userName: "alice");
    private readonly ChatSession _session;

    public ChatComponentsTests()
    {
        _connection.Online.Add(new PresenceDto(2, "bob", true, "s1", null));
        _session = new ChatSession(new FakeChatConnectionFactory(_connection), TimeProvider.System, NullLogger<ChatSession>.Instance);
        Services.AddSingleton(_session);
        Services.AddSingleton(new BrowserTime());
        Services.AddSingleton(TimeProvider.System);
        Services.AddLogging();
        Services.AddDataProtection();
        Services.AddScoped<ProtectedSessionStorage>();
        Services.AddScoped<SessionPersistence>();
        JSInterop.Mode = JSRuntimeMode.Loose;
    }

    private static string Bob => ConversationIds.ForUsers(1, 2);

    [Fact]
    public async Task Messages_render_as_text_with_emoji_and_never_as_markup()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        _connection.DeliverFrom(2, "bob", "<script>alert('x')</script> <b>bold</b> :smile:");

        var cut = Render<ConversationView>();

        var text = cut.WaitForElement("[data-testid=message-text]");
        Assert.Equal("<script>alert('x')</script> <b>bold</b> \U0001F604", text.TextContent);
        Assert.Empty(cut.FindAll("[data-testid=message-list] script"));
        Assert.Empty(cut.FindAll("[data-testid=message-list] b"));
    }

    [Fact]
    public async Task Own_messages_show_their_delivery_state_live()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        var cut = Render<ConversationView>();

        await cut.InvokeAsync(() => _session.SendAsync("ping"));
        cut.WaitForAssertion(() => Assert.Equal("Sent", cut.Find("[data-testid=message-status]").GetAttribute("data-status")), Timeout);

        _connection.RaiseReceipt(Bob, 2, Receipt.Types.Kind.Delivered, 1);
        cut.WaitForAssertion(() => Assert.Equal("Delivered", cut.Find("[data-testid=message-status]").GetAttribute("data-status")), Timeout);

        _connection.RaiseReceipt(Bob, 2, Receipt.Types.Kind.Read, 1);
        cut.WaitForAssertion(() => Assert.Equal("Read", cut.Find("[data-testid=message-status]").GetAttribute("data-status")), Timeout);
    }

    [Fact]
    public async Task Own_group_messages_show_delivered_then_how_many_members_read_them()
    {
        _connection.Groups.Add(new GroupDto(7, "rust fans", 1, 3));
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenConversationAsync("g7").WaitAsync(Timeout);
        var cut = Render<ConversationView>();
        (string?, string) Status()
        {
            var status = cut.Find("[data-testid=message-status]");
            return (status.GetAttribute("data-status"), status.TextContent.Trim());
        }

        await cut.InvokeAsync(() => _session.SendAsync("team update"));
        cut.WaitForAssertion(() => Assert.Equal(("Sent", "✓ Sent"), Status()), Timeout);
        var seq = _session.Find("g7")!.Messages.Single().Seq;

        _connection.RaiseReceipt("g7", 2, Receipt.Types.Kind.Delivered, seq);
        cut.WaitForAssertion(() => Assert.Equal(("Delivered", "✓✓ Delivered"), Status()), Timeout);

        _connection.RaiseReceipt("g7", 2, Receipt.Types.Kind.Read, seq);
        cut.WaitForAssertion(() => Assert.Equal(("Read", "✓✓ Read by 1"), Status()), Timeout);

        // A receipt for an earlier message does not count as reading this one.
        _connection.RaiseReceipt("g7", 3, Receipt.Types.Kind.Read, seq - 1);
        _connection.RaiseReceipt("g7", 3, Receipt.Types.Kind.Read, seq);
        cut.WaitForAssertion(() => Assert.Equal(("Read", "✓✓ Read by 2"), Status()), Timeout);
    }

    [Fact]
    public async Task Typing_by_the_peer_shows_in_the_open_conversation()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        var cut = Render<ConversationView>();

        _connection.RaiseTyping(2, new Target { UserId = 1 }, true);

        cut.WaitForAssertion(() => Assert.Equal("bob is typing…", cut.Find("[data-testid=typing-indicator]").TextContent), Timeout);
    }

    [Fact]
    public async Task The_conversation_list_shows_unread_counts_and_the_last_message()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        var cut = Render<ConversationList>();

        _connection.DeliverFrom(2, "bob", "first");
        _connection.DeliverFrom(2, "bob", "second :wave:");

        cut.WaitForAssertion(() =>
        {
            var item = cut.Find($"[data-conversation-id={Bob}]");
            Assert.Equal("2", item.QuerySelector("[data-testid=unread-count]")!.TextContent);
            Assert.Equal("second \U0001F44B", item.QuerySelector("[data-testid=conversation-preview]")!.TextContent);
        }, Timeout);
        Assert.Equal("g0", cut.FindAll("[data-testid=conversation]")[0].GetAttribute("data-conversation-id"));

        await cut.Find($"[data-conversation-id={Bob}]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll($"[data-conversation-id={Bob}] [data-testid=unread-count]")), Timeout);
    }

    [Fact]
    public async Task The_online_list_follows_presence_and_opens_a_chat()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        var cut = Render<OnlineUsers>();
        Assert.Equal(["bob"], cut.FindAll("[data-testid=online-user]").Select(e => e.GetAttribute("data-user-name")));

        _connection.RaisePresence(3, "carol", true);
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=online-user]").Count), Timeout);

        await cut.Find("[data-user-id='2']").ClickAsync(new());
        Assert.Equal(Bob, _session.ActiveConversationId);
    }

    [Fact]
    public async Task The_banner_shows_reconnecting_and_goes_away_when_back_online()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        var cut = Render<ConnectionBanner>();
        Assert.Empty(cut.FindAll("[data-testid=connection-banner]"));

        _connection.SetState(ChatConnectionState.Reconnecting);
        cut.WaitForAssertion(() => Assert.Equal("Reconnecting", cut.Find("[data-testid=connection-banner]").GetAttribute("data-state")), Timeout);

        _connection.SetState(ChatConnectionState.Online);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=connection-banner]")), Timeout);
    }

    [Fact]
    public async Task The_send_button_sends_the_composed_text()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        var cut = Render<Composer>();

        await cut.Find("[data-testid=composer-input]").InputAsync(new ChangeEventArgs { Value = "line one\nline two" });
        await cut.Find("[data-testid=composer]").SubmitAsync();

        Assert.True(_connection.Sends.TryPeek(out var send));
        Assert.Equal("line one\nline two", send.Text);
        Assert.Contains(_connection.TypingSent, t => t.Typing);
    }

    [Fact]
    public async Task Group_members_show_with_their_presence()
    {
        _connection.Groups.Add(new GroupDto(7, "team", 1, 3));
        _connection.Members[7] = [new(1, "alice", true), new(2, "bob", true), new(3, "carol", false)];
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenConversationAsync("g7").WaitAsync(Timeout);
        var cut = Render<ConversationView>();

        await cut.Find("[data-testid=toggle-members]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal(
            ["true", "true", "false"],
            cut.FindAll("[data-testid=member]").Select(m => m.GetAttribute("data-online"))), Timeout);
    }

    [Fact]
    public void Signing_in_with_a_wrong_password_shows_a_clear_error()
    {
        _connection.LoginError = new ChatRequestException("Invalid credentials", 401);
        var cut = Render<SignIn>();

        cut.Find("[data-testid=signin-username]").Input("alice");
        cut.Find("[data-testid=signin-password]").Input("nope");
        cut.Find("[data-testid=signin-form]").Submit();

        cut.WaitForAssertion(() => Assert.Equal("Wrong user name or password.", cut.Find("[data-testid=signin-error]").TextContent), Timeout);
        Assert.False(_session.IsSignedIn);
    }

    [Fact]
    public void Signing_up_shows_the_route_apis_reason_when_refused()
    {
        _connection.RegisterError = new ChatRequestException("The user name 'alice' is taken.", 409);
        var cut = Render<SignUp>();

        cut.Find("[data-testid=signup-username]").Input("alice");
        cut.Find("[data-testid=signup-password]").Input("secret1");
        cut.Find("[data-testid=signup-confirm]").Input("secret1");
        cut.Find("[data-testid=signup-form]").Submit();

        cut.WaitForAssertion(() => Assert.Equal("The user name 'alice' is taken.", cut.Find("[data-testid=signup-error]").TextContent), Timeout);
    }

    [Fact]
    public void Signing_up_with_different_passwords_is_refused_before_asking_the_server()
    {
        var cut = Render<SignUp>();

        cut.Find("[data-testid=signup-username]").Input("alice");
        cut.Find("[data-testid=signup-password]").Input("secret1");
        cut.Find("[data-testid=signup-confirm]").Input("secret2");
        cut.Find("[data-testid=signup-form]").Submit();

        Assert.Equal("The two passwords differ.", cut.Find("[data-testid=signup-error]").TextContent);
        Assert.False(_connection.Registered);
    }

    [Fact]
    public void The_chat_page_sends_a_signed_out_visitor_to_sign_in()
    {
        var navigation = Services.GetRequiredService<NavigationManager>();

        Render<ChatPage>();

        Assert.EndsWith("/signin", navigation.Uri, StringComparison.Ordinal);
    }
}

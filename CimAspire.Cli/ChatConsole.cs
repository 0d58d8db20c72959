using System.Collections.Concurrent;
using System.Globalization;
using CimAspire.Client;
using CimAspire.Protocol;

namespace CimAspire.Cli;

/// <summary>
/// The chat loop of <c>cim</c>: logs in, then reads standard input line by line (so a script or a test can drive it)
/// and prints what arrives. CIM's commands plus conversations, history and groups.
/// </summary>
internal sealed class ChatConsole
{
    private const int SearchPages = 10;
    private const int SearchPageSize = 100;
    private static readonly Target Everyone = new() { GroupId = ConversationIds.EveryoneGroupId };

    private readonly CimClient _client;
    private readonly TextReader _input;
    private readonly ConsoleOutput _out;
    private readonly ConcurrentDictionary<long, string> _userNames = new();
    private readonly ConcurrentDictionary<long, string> _groupNames = new();
    private readonly CancellationTokenSource _quit = new();
    private readonly Lock _lock = new();
    private Target _current = Everyone;
    private bool _wasOnline;

    public ChatConsole(CimClient client, TextReader input, ConsoleOutput output)
    {
        _client = client;
        _input = input;
        _out = output;
        _groupNames[ConversationIds.EveryoneGroupId] = "everyone";
    }

    /// <summary>Stops the loop as <c>:q!</c> does (Ctrl+C).</summary>
    public void RequestQuit() => _quit.Cancel();

    public async Task<int> RunAsync(CliOptions options)
    {
        var user = options.User ?? await PromptAsync("user: ");
        var password = options.Password ?? await PromptAsync("password: ");
        if (string.IsNullOrWhiteSpace(user) || string.IsNullOrEmpty(password))
        {
            _out.Error("A user name and a password are needed (--user/--password, CIM_USER/CIM_PASSWORD, or type them).");
            return 1;
        }

        Subscribe();
        try
        {
            if (options.Register)
            {
                var account = await _client.RegisterAsync(user, password, _quit.Token);
                _out.Status($"registered {account.UserName} (id {account.UserId})");
            }

            await _client.LoginAsync(user, password, _quit.Token);
        }
        catch (CimApiException e)
        {
            _out.Error(e.StatusCode == 0 ? $"{e.Message} Is the cluster running at {options.Route}?" : e.Message);
            return 1;
        }
        catch (CimConnectionException e)
        {
            _out.Error($"Could not connect to an IM server: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 1;
        }

        _wasOnline = true;
        _userNames[_client.UserId] = _client.UserName!;
        await LoadGroupNamesAsync();
        _out.Status($"logged in as {_client.UserName} (id {_client.UserId}) on {_client.Server?.ServerId}; talking in #everyone. Type :all for commands.");

        try
        {
            while (!_quit.IsCancellationRequested)
            {
                string? line;
                try
                {
                    // Console.In reads synchronously; reading on the pool lets Ctrl+C end the wait.
                    line = await Task.Run(_input.ReadLine).WaitAsync(_quit.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                if (line is null || !await HandleAsync(line))
                {
                    break;
                }
            }
        }
        finally
        {
            await QuitAsync();
        }

        return 0;
    }

    /// <summary>Handles one line; false means quit.</summary>
    private async Task<bool> HandleAsync(string line)
    {
        try
        {
            switch (ChatInput.Parse(line))
            {
                case ChatInput.Empty:
                    return true;
                case ChatInput.Invalid invalid:
                    _out.Error(invalid.Reason);
                    return true;
                case ChatInput.ToCurrent current:
                    await SendAsync(Current, current.Text);
                    return true;
                case ChatInput.ToUserId direct:
                    await SendAsync(new Target { UserId = direct.UserId }, direct.Text);
                    return true;
                case ChatInput.ToUserName named:
                    var account = await _client.FindUserAsync(named.UserName, _quit.Token);
                    if (account is null)
                    {
                        _out.Error($"There is no user '{named.UserName}'.");
                        return true;
                    }

                    _userNames[account.UserId] = account.UserName;
                    await SendAsync(new Target { UserId = account.UserId }, named.Text);
                    return true;
                case ChatInput.Command command:
                    return await RunCommandAsync(command.Name, command.Args);
                default:
                    return true;
            }
        }
        catch (CimApiException e)
        {
            _out.Error(e.Message);
        }
        catch (CimConnectionException e)
        {
            _out.Error(e.Message);
        }
        catch (InvalidOperationException e)
        {
            _out.Error(e.Message);
        }
        catch (ArgumentException e)
        {
            _out.Error(e.Message);
        }

        return true;
    }

    private async Task<bool> RunCommandAsync(string name, string args)
    {
        switch (name)
        {
            case "q!":
                return false;
            case "q":
                await SearchHistoryAsync(args);
                break;
            case "olu":
                await ListOnlineUsersAsync();
                break;
            case "pu":
                await FindUsersByPrefixAsync(args);
                break;
            case "emoji":
                ListEmoji(args);
                break;
            case "info":
                PrintInfo();
                break;
            case "delay":
                ScheduleDelayed(args);
                break;
            case "to":
                await SwitchConversationAsync(args);
                break;
            case "convs":
                await ListConversationsAsync();
                break;
            case "history":
                await ShowHistoryAsync(args);
                break;
            case "group":
                await GroupCommandAsync(args);
                break;
            case "members":
                await ListMembersAsync(args);
                break;
            default:
                if (name != "all")
                {
                    _out.Error($"Unknown command ':{name}'.");
                }

                PrintCommands();
                break;
        }

        return true;
    }

    private void PrintCommands() => _out.Info("""
        commands:
          text                   send to the current conversation (starts in #everyone)
          @name text             send to a user by name
          id;;text               send to a user by id (CIM style)
          :to <name|#group>      switch conversation (#everyone, #<id> or #<name> of your groups)
          :convs                 conversations with unread counts
          :history [n]           last n messages of the current conversation (default 20)
          :q <word>              search the history of your conversations
          :olu                   online users
          :pu <prefix>           find users by name prefix
          :group create <name>   create a group
          :group join <id>       join a group
          :group leave <id>      leave a group
          :members [id]          members of a group (default: the current one)
          :emoji [page]          emoji shortcodes, e.g. :smile: in a message
          :delay <msg> <seconds> send a message later
          :info                  who you are and where you are connected
          :all                   this list
          :q!                    quit
        """);

    private async Task SendAsync(Target to, string text)
    {
        try
        {
            var result = await _client.SendAsync(to, text, ct: _quit.Token);
            _out.Message(result.ServerTime, IsCurrent(to) ? null : Label(to), _client.UserName ?? "me", text, mine: true);
        }
        catch (CimSendException e)
        {
            _out.Error($"Not sent: {e.Message}");
        }
    }

    private async Task SearchHistoryAsync(string word)
    {
        if (word.Length == 0)
        {
            _out.Error("Usage: :q <word>   (:q! quits)");
            return;
        }

        var conversations = (await _client.GetConversationsAsync(_quit.Token)).Select(c => c.ConversationId).ToList();
        var current = CurrentConversationId;
        if (!conversations.Contains(current))
        {
            conversations.Add(current);
        }

        var hits = new List<MessageDto>();
        foreach (var conversationId in conversations)
        {
            long? before = null;
            for (var page = 0; page < SearchPages; page++)
            {
                var history = await _client.GetHistoryAsync(conversationId, before, SearchPageSize, _quit.Token);
                hits.AddRange(history.Messages.Where(m => m.Text.Contains(word, StringComparison.OrdinalIgnoreCase)));
                if (!history.HasMore || history.Messages.Count == 0)
                {
                    break;
                }

                before = history.Messages[0].Seq;
            }
        }

        if (hits.Count == 0)
        {
            _out.Info($"No message contains '{word}'.");
            return;
        }

        foreach (var hit in hits.OrderBy(h => h.ServerTime))
        {
            var where = hit.ConversationId == current ? string.Empty : $"({LabelOf(hit.ConversationId)}) ";
            _out.Info($"[{_out.Time(hit.ServerTime)}] {where}{hit.SenderName}: {_out.Mark(Emoji.Render(hit.Text), word)}");
        }

        _out.Info($"{hits.Count} message(s) contain '{word}'.");
    }

    private async Task ListOnlineUsersAsync()
    {
        var page = await _client.GetOnlineUsersAsync(0, 100, _quit.Token);
        foreach (var user in page.Users)
        {
            _userNames[user.UserId] = user.UserName;
            _out.Info($"  {user.UserName} (id {user.UserId}){(user.ServerId is null ? string.Empty : " on " + user.ServerId)}");
        }

        _out.Info($"{page.Total} user(s) online.");
    }

    private async Task FindUsersByPrefixAsync(string prefix)
    {
        if (prefix.Length == 0)
        {
            _out.Error("Usage: :pu <prefix>");
            return;
        }

        var users = await _client.SearchUsersAsync(prefix, 20, _quit.Token);
        foreach (var user in users)
        {
            _userNames[user.UserId] = user.UserName;
            _out.Info($"  {_out.Mark(user.UserName[..Math.Min(prefix.Length, user.UserName.Length)], prefix)}{user.UserName[Math.Min(prefix.Length, user.UserName.Length)..]} (id {user.UserId})");
        }

        _out.Info(users.Count == 0 ? $"No user name starts with '{prefix}'." : $"{users.Count} user(s).");
    }

    private void ListEmoji(string args)
    {
        var page = 1;
        if (args.Length > 0 && (!int.TryParse(args, NumberStyles.None, CultureInfo.InvariantCulture, out page) || page < 1 || page > Emoji.Pages))
        {
            _out.Error($"Usage: :emoji <page>, page 1 to {Emoji.Pages}");
            return;
        }

        foreach (var (code, glyph) in Emoji.Page(page - 1))
        {
            _out.Info($"  {code,-16} {glyph}");
        }

        _out.Info($"page {page} of {Emoji.Pages}; type a shortcode in a message to send it.");
    }

    private void PrintInfo()
    {
        var server = _client.Server;
        _out.Info($"user {_client.UserName} (id {_client.UserId}), state {_client.State}, " +
            $"server {server?.ServerId} at {server?.Host}:{server?.Port}, talking in {Label(Current)}");
    }

    private void ScheduleDelayed(string args)
    {
        var split = args.LastIndexOf(' ');
        if (split <= 0
            || !int.TryParse(args.AsSpan(split + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || seconds is < 1 or > 86_400)
        {
            _out.Error("Usage: :delay <message> <seconds>, seconds 1 to 86400");
            return;
        }

        var message = args[..split].Trim();
        var target = Current;
        _out.Status($"will send in {seconds} s");
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(seconds), _quit.Token);
                switch (ChatInput.Parse(message))
                {
                    case ChatInput.ToUserId direct:
                        await SendAsync(new Target { UserId = direct.UserId }, direct.Text);
                        break;
                    default:
                        await SendAsync(target, message);
                        break;
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e) when (e is CimApiException or InvalidOperationException or ArgumentException)
            {
                _out.Error($"Delayed message not sent: {e.Message}");
            }
        });
    }

    private async Task SwitchConversationAsync(string args)
    {
        if (args.Length == 0)
        {
            _out.Error("Usage: :to <name> or :to #<group id|name> (#everyone is the room of all users)");
            return;
        }

        Target target;
        if (args[0] == '#')
        {
            var group = args[1..];
            if (long.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out var groupId))
            {
                target = new Target { GroupId = groupId };
            }
            else
            {
                await LoadGroupNamesAsync();
                var match = _groupNames.FirstOrDefault(g => string.Equals(g.Value, group, StringComparison.OrdinalIgnoreCase));
                if (match.Value is null)
                {
                    _out.Error($"You are in no group named '{group}' (:group join <id> first).");
                    return;
                }

                target = new Target { GroupId = match.Key };
            }
        }
        else
        {
            var account = long.TryParse(args, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                ? await _client.FindUserAsync(id, _quit.Token)
                : await _client.FindUserAsync(args, _quit.Token);
            if (account is null)
            {
                _out.Error($"There is no user '{args}'.");
                return;
            }

            _userNames[account.UserId] = account.UserName;
            target = new Target { UserId = account.UserId };
        }

        lock (_lock)
        {
            _current = target;
        }

        _out.Status($"talking in {Label(target)}");
        await MarkCurrentReadAsync();
    }

    private async Task ListConversationsAsync()
    {
        var conversations = await _client.GetConversationsAsync(_quit.Token);
        if (conversations.Count == 0)
        {
            _out.Info("No conversations yet.");
            return;
        }

        var current = CurrentConversationId;
        foreach (var c in conversations)
        {
            var last = c.LastMessage is { } m ? $" - {m.SenderName}: {Emoji.Render(m.Text)}" : string.Empty;
            var marker = c.ConversationId == current ? "*" : " ";
            _out.Info($"{marker} {LabelOf(c.ConversationId),-20} unread {c.Unread}{last}");
        }
    }

    private async Task ShowHistoryAsync(string args)
    {
        var count = 20;
        if (args.Length > 0 && (!int.TryParse(args, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > 500))
        {
            _out.Error("Usage: :history [n], n 1 to 500");
            return;
        }

        var history = await _client.GetHistoryAsync(CurrentConversationId, null, count, _quit.Token);
        if (history.Messages.Count == 0)
        {
            _out.Info($"No messages in {Label(Current)} yet.");
            return;
        }

        foreach (var m in history.Messages)
        {
            _out.Message(m.ServerTime, null, m.SenderName, m.Text, m.SenderId == _client.UserId);
        }

        await MarkCurrentReadAsync();
    }

    private async Task GroupCommandAsync(string args)
    {
        var space = args.IndexOf(' ');
        var verb = space < 0 ? args : args[..space];
        var rest = space < 0 ? string.Empty : args[(space + 1)..].Trim();
        switch (verb)
        {
            case "create" when rest.Length > 0:
                var group = await _client.CreateGroupAsync(rest, _quit.Token);
                _groupNames[group.GroupId] = group.Name;
                _out.Status($"created group #{group.Name} (id {group.GroupId}); :to #{group.GroupId} to talk there");
                break;
            case "join" when TryParseId(rest, out var joinId):
                await _client.JoinGroupAsync(joinId, _quit.Token);
                await LoadGroupNamesAsync();
                _out.Status($"joined {Label(new Target { GroupId = joinId })}");
                break;
            case "leave" when TryParseId(rest, out var leaveId):
                await _client.LeaveGroupAsync(leaveId, _quit.Token);
                _out.Status($"left {Label(new Target { GroupId = leaveId })}");
                _groupNames.TryRemove(leaveId, out _);
                lock (_lock)
                {
                    if (_current.KindCase == Target.KindOneofCase.GroupId && _current.GroupId == leaveId)
                    {
                        _current = Everyone;
                    }
                }

                break;
            default:
                _out.Error("Usage: :group create <name> | :group join <id> | :group leave <id>");
                break;
        }
    }

    private async Task ListMembersAsync(string args)
    {
        long groupId;
        if (args.Length > 0)
        {
            if (!TryParseId(args, out groupId))
            {
                _out.Error("Usage: :members [group id]");
                return;
            }
        }
        else if (Current.KindCase == Target.KindOneofCase.GroupId && Current.GroupId != ConversationIds.EveryoneGroupId)
        {
            groupId = Current.GroupId;
        }
        else
        {
            _out.Error("Usage: :members <group id> (or :to #<group> first; everyone is in #everyone)");
            return;
        }

        var members = await _client.GetGroupMembersAsync(groupId, _quit.Token);
        foreach (var member in members)
        {
            _userNames[member.UserId] = member.UserName;
            _out.Info($"  {member.UserName} (id {member.UserId}){(member.Online ? " online" : string.Empty)}");
        }

        _out.Info($"{members.Count} member(s) in {Label(new Target { GroupId = groupId })}.");
    }

    private void Subscribe()
    {
        _client.MessageReceived += OnMessage;
        _client.TypingReceived += OnTyping;
        _client.StateChanged += OnStateChanged;
        _client.Kicked += kick => _out.Status(kick.Reason == Kick.Types.Reason.Replaced
            ? "you logged in somewhere else; this session ended (:q! to quit)"
            : $"the server asked this session to leave ({kick.Reason}){(kick.Message.Length > 0 ? ": " + kick.Message : string.Empty)}");
    }

    private void OnMessage(ChatMessage message)
    {
        _userNames[message.SenderId] = message.SenderName;
        var text = message.ContentType switch
        {
            ContentType.Binary => $"[{message.Body.Length} bytes]",
            _ => message.Body.ToStringUtf8(),
        };
        var current = message.ConversationId == CurrentConversationId;
        _out.Message(
            DateTimeOffset.FromUnixTimeMilliseconds(message.ServerTimeMs),
            current ? null : LabelOf(message.ConversationId),
            message.SenderName,
            text,
            message.SenderId == _client.UserId);
        if (current)
        {
            _ = MarkReadQuietlyAsync(message.ConversationId, message.Seq);
        }
    }

    private void OnTyping(Typing typing)
    {
        if (!typing.Typing_)
        {
            return;
        }

        var who = _userNames.TryGetValue(typing.FromUserId, out var name) ? name : $"user {typing.FromUserId}";
        var where = typing.To.KindCase == Target.KindOneofCase.GroupId ? $" in {Label(typing.To)}" : string.Empty;
        _out.Typing($"{who} is typing{where}…");
    }

    private void OnStateChanged(ConnectionState state)
    {
        switch (state)
        {
            case ConnectionState.Reconnecting:
                _out.Status("connection lost; reconnecting…");
                break;
            case ConnectionState.Online when _wasOnline:
                _out.Status($"reconnected to {_client.Server?.ServerId}");
                break;
            case ConnectionState.Failed:
                _out.Error("Could not reconnect. Type :q! to quit and start cim again.");
                break;
            default:
                break;
        }
    }

    private async Task MarkCurrentReadAsync()
    {
        var conversationId = CurrentConversationId;
        var seq = _client.LastSeq(conversationId);
        if (seq > 0)
        {
            await MarkReadQuietlyAsync(conversationId, seq);
        }
    }

    private async Task MarkReadQuietlyAsync(string conversationId, long seq)
    {
        try
        {
            await _client.MarkReadAsync(conversationId, seq);
        }
        catch (InvalidOperationException)
        {
            // Logged out meanwhile: nothing to mark.
        }
    }

    private async Task LoadGroupNamesAsync()
    {
        try
        {
            foreach (var group in await _client.GetMyGroupsAsync(_quit.Token))
            {
                _groupNames[group.GroupId] = group.Name;
            }
        }
        catch (CimApiException e)
        {
            _out.Error($"Could not list your groups: {e.Message}");
        }
    }

    private async Task QuitAsync()
    {
        try
        {
            await _client.LogoutAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            _out.Status("bye");
        }
        catch (Exception e) when (e is CimApiException or TimeoutException)
        {
            _out.Error($"Logged out locally, but the route API did not confirm: {e.Message}");
        }
    }

    private Target Current
    {
        get
        {
            lock (_lock)
            {
                return _current;
            }
        }
    }

    private string CurrentConversationId => ConversationIds.For(_client.UserId, Current);

    private bool IsCurrent(Target to) => ConversationIds.For(_client.UserId, to) == CurrentConversationId;

    private string Label(Target target) => target.KindCase == Target.KindOneofCase.GroupId
        ? "#" + (_groupNames.TryGetValue(target.GroupId, out var name) ? name : target.GroupId.ToString(CultureInfo.InvariantCulture))
        : "@" + (_userNames.TryGetValue(target.UserId, out var user) ? user : "user " + target.UserId.ToString(CultureInfo.InvariantCulture));

    private string LabelOf(string conversationId) =>
        ConversationIds.PeerOf(conversationId, _client.UserId) is { } peer ? Label(peer) : conversationId;

    private static bool TryParseId(string text, out long id) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id > 0;

    private async Task<string?> PromptAsync(string prompt)
    {
        if (!Console.IsInputRedirected && ReferenceEquals(_input, Console.In) && prompt.StartsWith("password", StringComparison.Ordinal))
        {
            return ReadHidden(prompt);
        }

        Console.Out.Write(prompt);
        Console.Out.Flush();
        return (await _input.ReadLineAsync())?.Trim();
    }

    // Only on an interactive terminal: a password should not be echoed.
    private static string ReadHidden(string prompt)
    {
        Console.Write(prompt);
        var password = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.WriteLine();
                return password.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (password.Length > 0)
                {
                    password.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }
    }
}

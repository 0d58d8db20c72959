namespace CimAspire.Cli;

/// <summary>What one line typed at the console means.</summary>
public abstract record ChatInput
{
    /// <summary>Reads a line the way CIM did: <c>:cmd args</c> is a command, <c>@name text</c> and <c>id;;text</c> go to a
    /// user, anything else to the current conversation. A line that starts with an emoji shortcode is a message.</summary>
    public static ChatInput Parse(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return new Empty();
        }

        var text = line.Trim();
        if (text[0] == ':' && !Emoji.IsShortcode(FirstToken(text)))
        {
            var space = text.IndexOf(' ');
            var name = space < 0 ? text[1..] : text[1..space];
            var args = space < 0 ? string.Empty : text[(space + 1)..].Trim();
            return new Command(name.ToLowerInvariant(), args);
        }

        if (text[0] == '@')
        {
            var space = text.IndexOf(' ');
            var user = space < 0 ? text[1..] : text[1..space];
            var body = space < 0 ? string.Empty : text[(space + 1)..].Trim();
            return user.Length == 0 || body.Length == 0
                ? new Invalid("Write @name followed by the message.")
                : new ToUserName(user, body);
        }

        var separator = text.IndexOf(";;", StringComparison.Ordinal);
        if (separator > 0 && long.TryParse(text.AsSpan(0, separator), out var userId))
        {
            var body = text[(separator + 2)..].Trim();
            return userId <= 0 || body.Length == 0
                ? new Invalid("Write userId;;message with a user id above 0 and some text.")
                : new ToUserId(userId, body);
        }

        return new ToCurrent(text);
    }

    private static string FirstToken(string text)
    {
        var space = text.IndexOf(' ');
        return space < 0 ? text : text[..space];
    }

    public sealed record Empty : ChatInput;

    public sealed record Invalid(string Reason) : ChatInput;

    public sealed record Command(string Name, string Args) : ChatInput;

    public sealed record ToUserName(string UserName, string Text) : ChatInput;

    public sealed record ToUserId(long UserId, string Text) : ChatInput;

    public sealed record ToCurrent(string Text) : ChatInput;
}

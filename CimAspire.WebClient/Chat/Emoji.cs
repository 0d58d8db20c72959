using System.Collections.Frozen;
using System.Text;

namespace CimAspire.WebClient.Chat;

/// <summary>Turns <c>:shortcode:</c> into emoji. The result is still plain text and is rendered as text.</summary>
public static class Emoji
{
    private static readonly FrozenDictionary<string, string> Table = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["smile"] = "\U0001F604",
        ["grin"] = "\U0001F601",
        ["joy"] = "\U0001F602",
        ["wink"] = "\U0001F609",
        ["blush"] = "\U0001F60A",
        ["heart_eyes"] = "\U0001F60D",
        ["thinking"] = "\U0001F914",
        ["cry"] = "\U0001F622",
        ["sob"] = "\U0001F62D",
        ["angry"] = "\U0001F620",
        ["sunglasses"] = "\U0001F60E",
        ["scream"] = "\U0001F631",
        ["sleeping"] = "\U0001F634",
        ["heart"] = "\u2764\uFE0F",
        ["broken_heart"] = "\U0001F494",
        ["thumbsup"] = "\U0001F44D",
        ["+1"] = "\U0001F44D",
        ["thumbsdown"] = "\U0001F44E",
        ["-1"] = "\U0001F44E",
        ["clap"] = "\U0001F44F",
        ["wave"] = "\U0001F44B",
        ["ok_hand"] = "\U0001F44C",
        ["pray"] = "\U0001F64F",
        ["muscle"] = "\U0001F4AA",
        ["fire"] = "\U0001F525",
        ["tada"] = "\U0001F389",
        ["rocket"] = "\U0001F680",
        ["star"] = "\u2B50",
        ["sparkles"] = "\u2728",
        ["coffee"] = "\u2615",
        ["beer"] = "\U0001F37A",
        ["pizza"] = "\U0001F355",
        ["100"] = "\U0001F4AF",
        ["eyes"] = "\U0001F440",
        ["check"] = "\u2705",
        ["x"] = "\u274C",
        ["warning"] = "\u26A0\uFE0F",
        ["bug"] = "\U0001F41B",
        ["sun"] = "\u2600\uFE0F",
        ["moon"] = "\U0001F319",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static IEnumerable<string> Shortcodes => Table.Keys;

    public static string Render(string text)
    {
        if (string.IsNullOrEmpty(text) || text.IndexOf(':') < 0)
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var open = text.IndexOf(':', i);
            if (open < 0)
            {
                break;
            }

            var close = text.IndexOf(':', open + 1);
            if (close < 0)
            {
                break;
            }

            var code = text.AsSpan(open + 1, close - open - 1);
            if (code.Length > 0 && code.Length <= 20 && Table.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(code, out var emoji))
            {
                result.Append(text, i, open - i).Append(emoji);
                i = close + 1;
            }
            else
            {
                // The closing colon may open the next shortcode ("12:30 :smile:").
                result.Append(text, i, close - i);
                i = close;
            }
        }

        result.Append(text, i, text.Length - i);
        return result.ToString();
    }
}

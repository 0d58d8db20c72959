using System.Text.RegularExpressions;

namespace CimAspire.Cli;

/// <summary>Emoji shortcodes (<c>:smile:</c>) and how they render; a small table of common ones.</summary>
public static partial class Emoji
{
    public const int PageSize = 10;

    public static readonly IReadOnlyList<(string Code, string Glyph)> All =
    [
        (":smile:", "😄"), (":grin:", "😁"), (":joy:", "😂"), (":wink:", "😉"), (":blush:", "😊"),
        (":heart_eyes:", "😍"), (":kissing_heart:", "😘"), (":thinking:", "🤔"), (":neutral_face:", "😐"), (":sweat_smile:", "😅"),
        (":cry:", "😢"), (":sob:", "😭"), (":angry:", "😠"), (":rage:", "😡"), (":scream:", "😱"),
        (":sunglasses:", "😎"), (":sleeping:", "😴"), (":innocent:", "😇"), (":upside_down:", "🙃"), (":rofl:", "🤣"),
        (":thumbsup:", "👍"), (":thumbsdown:", "👎"), (":clap:", "👏"), (":wave:", "👋"), (":ok_hand:", "👌"),
        (":pray:", "🙏"), (":muscle:", "💪"), (":point_up:", "☝️"), (":raised_hands:", "🙌"), (":handshake:", "🤝"),
        (":heart:", "❤️"), (":broken_heart:", "💔"), (":fire:", "🔥"), (":star:", "⭐"), (":sparkles:", "✨"),
        (":tada:", "🎉"), (":rocket:", "🚀"), (":100:", "💯"), (":eyes:", "👀"), (":coffee:", "☕"),
        (":beer:", "🍺"), (":pizza:", "🍕"), (":cake:", "🍰"), (":sun:", "☀️"), (":rainbow:", "🌈"),
        (":cat:", "🐱"), (":dog:", "🐶"), (":bug:", "🐛"), (":check:", "✅"), (":x:", "❌"),
    ];

    private static readonly Dictionary<string, string> ByCode = All.ToDictionary(e => e.Code, e => e.Glyph, StringComparer.Ordinal);

    public static int Pages => (All.Count + PageSize - 1) / PageSize;

    /// <summary>Replaces known shortcodes with their emoji; unknown ones stay as typed.</summary>
    public static string Render(string text) =>
        text.Contains(':') ? Shortcode().Replace(text, m => ByCode.TryGetValue(m.Value, out var glyph) ? glyph : m.Value) : text;

    public static bool IsShortcode(string token) => ByCode.ContainsKey(token);

    public static IReadOnlyList<(string Code, string Glyph)> Page(int page) =>
        page < 0 ? [] : All.Skip(page * PageSize).Take(PageSize).ToList();

    [GeneratedRegex(":[a-z0-9_+-]+:")]
    private static partial Regex Shortcode();
}

using System.Text;

namespace CimAspire.Cli;

/// <summary>
/// Makes text from the network safe to print on a terminal: no control character reaches it, so a message body or a
/// name cannot clear the screen, set the window title, move the cursor, ring the bell, overwrite a line with a carriage
/// return or reorder what follows with a bidi override.
/// </summary>
public static class TerminalText
{
    /// <summary>What follows a line break inside one printed item, so a body cannot pass its second line off as a new message.</summary>
    public const string ContinuationIndent = "    ";

    /// <summary>
    /// C0 controls (ESC, BEL, backspace...) and DEL become their visible Control Pictures (␛, ␇, ␈, ␡), C1 controls
    /// (CSI, OSC as single bytes...) become U+FFFD, bidi embeddings, overrides and isolates are dropped. A line break (LF,
    /// CRLF, a lone CR, U+2028/U+2029, NEL) becomes a newline followed by <see cref="ContinuationIndent"/>, or a space
    /// when <paramref name="keepNewlines"/> is false. Tabs stay.
    /// </summary>
    public static string Clean(string? text, bool keepNewlines = true) =>
        Clean(text, keepNewlines ? "\n" + ContinuationIndent : " ", keepSgr: false);

    /// <summary>
    /// The last pass over a whole line before it is printed: as <see cref="Clean(string?, bool)"/>, but a newline stays a
    /// plain newline and, when <paramref name="keepSgr"/> is set (colour output), colour sequences (ESC [ digits and ; m)
    /// stay, so the client's own colours survive; every other escape sequence is defused.
    /// </summary>
    public static string CleanLine(string line, bool keepSgr) => Clean(line, "\n", keepSgr);

    private static string Clean(string? text, string newline, bool keepSgr)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }

        if (!NeedsCleaning(text))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 8);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                continue;
            }

            if (c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029')
            {
                builder.Append(newline);
            }
            else if (c == '\t')
            {
                builder.Append(c);
            }
            else if (c == '\u001b' && keepSgr && SgrLength(text, i) is > 0 and var length)
            {
                builder.Append(text, i, length);
                i += length - 1;
            }
            else if (c < ' ')
            {
                builder.Append((char)(0x2400 + c));
            }
            else if (c == '\u007f')
            {
                builder.Append('\u2421');
            }
            else if (c is >= '\u0080' and <= '\u009f')
            {
                builder.Append('\ufffd');
            }
            else if (!IsBidiControl(c))
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    // The length of the colour sequence (ESC [ [0-9;]* m) at start, or 0 when there is none.
    private static int SgrLength(string text, int start)
    {
        if (start + 2 >= text.Length || text[start + 1] != '[')
        {
            return 0;
        }

        for (var i = start + 2; i < text.Length; i++)
        {
            var c = text[i];
            if (c == 'm')
            {
                return i - start + 1;
            }

            if (c is not (>= '0' and <= '9' or ';'))
            {
                return 0;
            }
        }

        return 0;
    }

    private static bool NeedsCleaning(string text)
    {
        foreach (var c in text)
        {
            if (c < ' ' || c is >= '\u007f' and <= '\u009f' || c is '\u2028' or '\u2029' || IsBidiControl(c))
            {
                return true;
            }
        }

        return false;
    }

    // LRM, RLM, ALM and the embeddings, overrides and isolates: they change the order in which the rest is shown.
    private static bool IsBidiControl(char c) => c is '\u200e' or '\u200f' or '\u061c' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069');
}

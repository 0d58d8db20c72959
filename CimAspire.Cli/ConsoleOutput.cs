using System.Globalization;

namespace CimAspire.Cli;

/// <summary>
/// Everything <c>cim</c> prints, one whole line at a time (events arrive on other threads). ANSI colour only when
/// asked for, which Program decides from the terminal and NO_COLOR. Nothing from the network reaches the terminal
/// unfiltered (<see cref="TerminalText"/>).
/// </summary>
internal sealed class ConsoleOutput(TextWriter writer, bool color, TimeProvider? clock = null)
{
    private const string Reset = "\u001b[0m";
    private const string Dim = "\u001b[2m";
    private const string Bold = "\u001b[1m";
    private const string Red = "\u001b[31m";
    private const string Green = "\u001b[32m";
    private const string Yellow = "\u001b[33m";
    private const string Cyan = "\u001b[36m";
    private const string Highlight = "\u001b[1;4;31m";
    private static readonly string[] SenderColors = ["\u001b[34m", "\u001b[35m", "\u001b[36m", "\u001b[32m", "\u001b[33m", "\u001b[94m", "\u001b[95m"];
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public bool Color => color;

    /// <summary><c>[HH:mm:ss] sender: text</c>, with <paramref name="where"/> in front when it is not the current conversation.</summary>
    public void Message(DateTimeOffset time, string? where, string sender, string text, bool mine)
    {
        // Names and bodies come from other users: cleaned here, before the client's own colours are added.
        sender = TerminalText.Clean(sender, keepNewlines: false);
        text = TerminalText.Clean(text);
        var stamp = time.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        var prefix = where is null ? string.Empty : $"({TerminalText.Clean(where, keepNewlines: false)}) ";
        var name = Paint(sender, mine ? Bold + Green : SenderColors[(int)((uint)sender.GetHashCode(StringComparison.Ordinal) % SenderColors.Length)]);
        WriteLine($"{Paint($"[{stamp}]", Dim)} {prefix}{name}: {Emoji.Render(text)}");
    }

    // Status, error and typing lines carry no colour of their callers, so whatever they quote (a server's error text, a
    // group name) is cleaned whole before the client's own colour goes around it. Info lines may hold Mark's highlights:
    // the last pass in WriteLine keeps colour sequences there.
    public void Status(string text) => WriteLine(Paint($"-- {TerminalText.Clean(text)}", Yellow));

    public void Info(string text) => WriteLine(text);

    public void Error(string text) => WriteLine(Paint($"! {TerminalText.Clean(text)}", Red));

    public void Typing(string text) => WriteLine(Paint($"   {TerminalText.Clean(text)}", Dim + Cyan));

    /// <summary>Marks every occurrence of <paramref name="word"/> (ignoring case): coloured on a terminal, *starred* otherwise.</summary>
    public string Mark(string text, string word)
    {
        text = TerminalText.Clean(text);
        if (word.Length == 0)
        {
            return text;
        }

        var result = new System.Text.StringBuilder();
        var at = 0;
        while (true)
        {
            var hit = text.IndexOf(word, at, StringComparison.OrdinalIgnoreCase);
            if (hit < 0)
            {
                result.Append(text, at, text.Length - at);
                return result.ToString();
            }

            result.Append(text, at, hit - at);
            var found = text.Substring(hit, word.Length);
            result.Append(color ? Highlight + found + Reset : "*" + found + "*");
            at = hit + word.Length;
        }
    }

    public string Time(DateTimeOffset time) => time.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    public DateTimeOffset Now => _clock.GetUtcNow();

    private string Paint(string text, string code) => color ? code + text + Reset : text;

    // Every line passes through here: whatever part of it came from the network, no control sequence but the client's
    // own colours reaches the terminal.
    private void WriteLine(string line)
    {
        line = TerminalText.CleanLine(line, keepSgr: color);
        lock (_lock)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }
}

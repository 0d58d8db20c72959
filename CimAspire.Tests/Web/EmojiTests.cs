using CimAspire.WebClient.Chat;

namespace CimAspire.Tests.Web;

public sealed class EmojiTests
{
    [Theory]
    [InlineData("hello :smile:", "hello \U0001F604")]
    [InlineData(":+1::tada:", "\U0001F44D\U0001F389")]
    [InlineData("at 12:30 :wave:", "at 12:30 \U0001F44B")]
    [InlineData(":notacode: stays", ":notacode: stays")]
    [InlineData("a : b : c", "a : b : c")]
    [InlineData("", "")]
    [InlineData("<b>:heart:</b>", "<b>\u2764\uFE0F</b>")]
    public void Shortcodes_become_emoji_and_everything_else_stays(string text, string expected)
    {
        Assert.Equal(expected, Emoji.Render(text));
    }
}

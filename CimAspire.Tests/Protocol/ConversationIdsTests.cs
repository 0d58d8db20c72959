using CimAspire.Protocol;

namespace CimAspire.Tests.Protocol;

public class ConversationIdsTests
{
    [Fact]
    public void OneToOneIdIsTheSameWhoeverSends()
    {
        Assert.Equal("u3_9", ConversationIds.ForUsers(9, 3));
        Assert.Equal(ConversationIds.ForUsers(3, 9), ConversationIds.For(9, new Target { UserId = 3 }));
    }

    [Fact]
    public void PeerOfNamesTheOtherSideOrNull()
    {
        Assert.Equal(9, ConversationIds.PeerOf("u3_9", 3)!.UserId);
        Assert.Equal(3, ConversationIds.PeerOf("u3_9", 9)!.UserId);
        Assert.Null(ConversationIds.PeerOf("u3_9", 4));
        Assert.Equal(5, ConversationIds.PeerOf("g5", 4)!.GroupId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("x1")]
    [InlineData("u9_3")]
    [InlineData("u_3")]
    [InlineData("g-1")]
    [InlineData("u3_")]
    public void InvalidIdsDoNotParse(string id)
    {
        Assert.False(ConversationIds.TryParse(id, out _, out _, out _));
    }
}

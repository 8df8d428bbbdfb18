using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Tests.Abstractions;

[Trait("Category", "Unit")]
public sealed class GrainKeysTests
{
    [Theory]
    [InlineData("web", "alice")]
    [InlineData("web", "a/b//c/")] // session keys may contain the separator: the pool ends at the first one
    [InlineData("p.1_x-2", "")]
    public void Session_ParsesBackIntoItsPoolAndSessionKey(string pool, string sessionKey)
    {
        var key = GrainKeys.Session(pool, sessionKey);

        Assert.Equal((pool, sessionKey), GrainKeys.Parse(key));
    }

    [Fact]
    public void BackendAndSession_OfTheSameNames_AreTheSameKeyForDifferentGrainTypes()
    {
        // The grain type tells them apart; the key format is one and the same.
        Assert.Equal("web/b1", GrainKeys.Backend("web", "b1"));
        Assert.Equal("web/b1", GrainKeys.Session("web", "b1"));
        Assert.Equal(("web", "b1"), GrainKeys.Parse(GrainKeys.Backend("web", "b1")));
    }

    [Theory]
    [InlineData("web")]
    [InlineData("/alice")]
    [InlineData("")]
    public void Parse_KeyWithoutPool_Throws(string key) => Assert.Throws<FormatException>(() => GrainKeys.Parse(key));

    [Theory]
    [InlineData("we/b")]
    [InlineData("")]
    public void Session_PoolNameThatCannotBeParsedBack_Throws(string pool) =>
        Assert.ThrowsAny<ArgumentException>(() => GrainKeys.Session(pool, "alice"));
}

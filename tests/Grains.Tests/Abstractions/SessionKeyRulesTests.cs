using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Tests.Abstractions;

[Trait("Category", "Unit")]
public sealed class SessionKeyRulesTests
{
    [Theory]
    [InlineData("alice")]
    [InlineData("!~")] // the first and the last visible ASCII character
    [InlineData("a/b%2F\"c")]
    [InlineData("12345678")]
    public void Check_VisibleAsciiWithinTheLength_IsValid(string key) => Assert.Null(SessionKeyRules.Check(key, maxLength: 8));

    [Theory]
    [InlineData(null, "is empty")]
    [InlineData("", "is empty")]
    [InlineData("123456789", "is longer than 8 characters")]
    [InlineData("a b", "may contain only visible ASCII characters")]
    [InlineData("a\tb", "may contain only visible ASCII characters")]
    [InlineData("café", "may contain only visible ASCII characters")]
    [InlineData("a\u007Fb", "may contain only visible ASCII characters")]
    public void Check_BrokenKey_SaysWhatIsWrong(string? key, string problem) => Assert.Equal(problem, SessionKeyRules.Check(key, maxLength: 8));
}

using Distributed.Grains.Health;

namespace Distributed.Grains.Tests.Health;

[Trait("Category", "Unit")]
public sealed class SlowStartTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(-5, 0.1)] // a clock that stepped back
    [InlineData(0, 0.1)]
    [InlineData(5, 0.5)]
    [InlineData(10, 1)]
    [InlineData(60, 1)]
    public void Factor_RampsFromATenthToFull(int seconds, double factor) =>
        Assert.Equal(factor, SlowStart.Factor(T0, T0.AddSeconds(seconds), TimeSpan.FromSeconds(10)), 3);

    [Fact]
    public void Factor_Disabled_IsFull() =>
        Assert.Equal(1, SlowStart.Factor(T0, T0, TimeSpan.Zero));
}

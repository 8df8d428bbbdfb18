using Distributed.Grains.Health;

namespace Distributed.Grains.Tests.Health;

[Trait("Category", "Unit")]
public sealed class PanicGateTests
{
    [Theory]
    [InlineData(10, 5, false)] // 50% is not below 50%
    [InlineData(10, 4, true)]
    [InlineData(10, 9, false)]
    [InlineData(2, 1, false)]
    [InlineData(2, 0, true)]
    [InlineData(1, 0, true)]
    [InlineData(0, 0, false)] // nothing to route to either way
    public void Update_NotInPanic_StartsBelowTheThreshold(int active, int healthy, bool panic)
    {
        var gate = new PanicGate();
        Assert.Equal(panic, gate.Update(healthy, active, 50));
        Assert.Equal(panic, gate.Active);
    }

    [Fact]
    public void Update_InPanic_EndsOnlyOnceOneBackendMoreThanTheThresholdNeedsIsHealthy()
    {
        var gate = new PanicGate();
        gate.Update(healthy: 4, active: 10, thresholdPercent: 50);
        Assert.True(gate.Active);

        Assert.False(gate.Update(healthy: 5, active: 10, thresholdPercent: 50)); // at the threshold: still panic
        Assert.True(gate.Active);
        Assert.True(gate.Update(healthy: 6, active: 10, thresholdPercent: 50));
        Assert.False(gate.Active);

        Assert.False(gate.Update(healthy: 5, active: 10, thresholdPercent: 50)); // and back at the edge: no panic yet
        Assert.False(gate.Active);
    }

    [Fact]
    public void Update_TwoBackends_OneRecoveringDoesNotEndPanicTheSecondDoes()
    {
        var gate = new PanicGate();
        gate.Update(healthy: 0, active: 2, thresholdPercent: 50);
        Assert.False(gate.Update(healthy: 1, active: 2, thresholdPercent: 50));
        Assert.True(gate.Active);
        Assert.True(gate.Update(healthy: 2, active: 2, thresholdPercent: 50));
    }

    [Fact]
    public void Update_ThresholdZero_NeverPanicsAndEndsAPanic()
    {
        var gate = new PanicGate();
        Assert.False(gate.Update(healthy: 0, active: 3, thresholdPercent: 0));
        gate.Update(healthy: 0, active: 3, thresholdPercent: 50);
        Assert.True(gate.Active);
        Assert.True(gate.Update(healthy: 0, active: 3, thresholdPercent: 0));
        Assert.False(gate.Active);
    }

    [Fact]
    public void Update_ThresholdHundred_PanicsWhenAnyBackendIsUnhealthy()
    {
        var gate = new PanicGate();
        Assert.True(gate.Update(healthy: 9, active: 10, thresholdPercent: 100));
        Assert.True(gate.Update(healthy: 10, active: 10, thresholdPercent: 100));
    }
}
